// Package center is what a vendor embeds to give operators QVR Center's
// Failover Management over a failover.Controller: an http.Handler with the
// admin API, the Failover Management page, an event stream and Prometheus
// metrics. cmd/nvrcenter is the same thing as a daemon.
//
//	c, err := center.New(ctx, center.Config{
//		Controller: failover.ControllerConfig{Transport: tr, Store: failover.NewFileStore(path)},
//		Servers:    ids, // the servers the Add dialogs offer
//		Users:      []center.User{{Name: "admin", PasswordHash: hash}},
//	})
//	go c.Run(ctx)
//	http.ListenAndServeTLS(addr, cert, key, c.Handler())
//
// # What Handler serves
//
//   - / : the page, from files embedded in the binary (plain HTML, CSS and
//     JavaScript; nothing is fetched from elsewhere): a tab per Failover
//     Group, the Recording Servers and Standby Servers tables with each
//     server's Failover Status (the manual's label, description and a
//     colour), Add dialogs that show every ineligible server with every
//     reason, the first-admin verification, the Failover Protection switch,
//     rename and delete, an event timeline and a ledger lookup. It follows
//     the event stream and redraws without reloading.
//   - /api/v1/ : the admin API, JSON; docs/center-openapi.yaml describes
//     every operation and a test keeps it true.
//   - /metrics, /healthz, /readyz.
//
// # Sessions and the first admin user
//
// Admin users log in with a password checked against its bcrypt hash; the
// session is an HttpOnly, SameSite=Strict cookie (Secure with
// Config.SecureCookies) kept in memory, so a restart logs everyone out.
// Five wrong passwords for a user within a minute lock that user out for
// the rest of the minute. Every change needs a JSON body, which a
// cross-site form cannot send. Removing standby servers and deleting a
// group need the first admin user's password again, as QVR Center asks:
// POST /api/v1/approvals checks it and returns a token that approves that
// one operation (the group, and the very servers of a removal), once, from
// that session, within Config.ApprovalTTL; the operation hands it to the
// Controller as its failover.FirstAdminVerifier.
//
// # Statuses before the first probe
//
// The Machine counts a server whose health is unknown as not functional,
// so until its first probe a recording server derives "Abnormal,
// unprotected" and a standby "Abnormal". The Center shows such a server as
// "Checking" instead, publishes no event for it and logs it only at Debug:
// its first event is the move from Checking to what its probe showed. A
// recording server's protection depends on its group's standbys, so it
// stays Checking until every enabled standby of its group has had its
// first probe too (or for twice the time the failure detector takes to
// judge a silent server, at most): a restart over a healthy fleet shows
// each recording server moving once, from Checking to "Normal, protected",
// not through "Normal, unprotected". The Controller's own event records
// are left out of the Center's log for this (the Center logs every event
// itself, once, as the page shows it).
//
// # Metrics
//
// The Controller exposes its events and nothing else, so the Center wraps
// the Transport and the Store it is given: nvrcenter_transport_calls_total
// and nvrcenter_transport_call_seconds by kind and outcome,
// nvrcenter_command_retries_total (an order sent again with the same epoch),
// nvrcenter_store_saves_total and nvrcenter_store_save_seconds. From the
// events: nvrcenter_events_total, nvrcenter_detection_seconds (last
// answered probe to server-down) and nvrcenter_takeover_seconds
// (server-down to takeover-succeeded). At each scrape, from a snapshot:
// nvrcenter_servers by role and status label, and per group
// nvrcenter_group_channels (protected, unprotected) and
// nvrcenter_group_protection.
package center
