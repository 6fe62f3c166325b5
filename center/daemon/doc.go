// Package daemon is nvrcenter, the center an operator runs, as a package:
// cmd/nvrcenter runs it as it is, and the nested module etcdha runs it as
// nvrcenter-ha with Options.HA, so that a configuration file with
// store = "etcd" runs one of several centers that stand by for each other
// without the core module carrying etcd. docs/nvrcenter.md describes the
// command line and the configuration file.
package daemon
