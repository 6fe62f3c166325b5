package center

import "embed"

// webFiles is the Failover Management page: plain HTML, CSS and JavaScript,
// nothing fetched from elsewhere.
//
//go:embed web
var webFiles embed.FS
