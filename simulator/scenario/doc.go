// Package scenario is the simulator's scenario file format: a script of
// faults, admin operations and expectations for one world, parsed by
// [Parse] and run by simulator.Config.ApplyScenario. The parser is a table
// of directives (one function each), of action verbs and of expectation
// kinds.
//
// # Format
//
// A scenario is a text file, one statement a line; # starts a comment.
// Durations are Go durations (800ms, 10s, 1m30s). Servers are rec-N and
// sb-N, numbered across the world in group order; groups are g1 (the default
// group "Failover Group 1"), g2, ... <servers> is one ID or a comma-separated
// list without spaces. The header sets the world (when it has none, the
// Config's world is used):
//
//	name <text>
//	duration <time>
//	groups <n>                                    # groups, each with every template below
//	recording <n> [channels <c>] [cameras <k>]    # n recording servers per group
//	standby <n> [channels <c>] [space none]       # n standbys per group
//	set <server> channels <c> | cameras <k> | space none
//	net quiet | noisy | [latency <t>] [jitter <t>] [loss <p>] [dup <p>]
//	nemesis off | default | <kind,kind,...> [rate <x>]
//	baseline                                      # the baseline detector
//	failback [manual] [hold-down <t>] [max <t>] [flap-window <t>]
//	stream-start <t>
//	ack-when-recording
//	platform arm64 | x86_64                       # the center's platform (8 or 64 servers per group)
//	centers <n> [lease <t>]                       # n centers stand by for each other (default 1; lease 5s)
//
// Actions happen at a time, or when the Machine publishes an event:
//
//	at <time> <action>
//	on takeover-start|takeover-confirm|failback-start [<recording>] [after <t>] <action>
//	at <time> expect status <server> "<label>"
//
// A trigger fires once, at the first matching event; its action may name
// the takeover's servers as "standby" and "recording". A trigger's
// center-crash without "after" crashes the center (the leader) right after
// the Machine persisted the change and before the orders leave. The
// actions:
//
//	crash <servers> [for <t>]          restart <servers>
//	pause <servers> for <t>
//	abnormal <servers> [recording] [for <t>]   recover <servers>
//	                                   (recording: degraded, it records until stood down)
//	partition <servers> [in|out] [for <t>]   heal <servers> [in|out]
//	                                   (in: center to server cut; out: server to center)
//	loss <p> [<servers>] for <t>       delay <t> [<servers>] for <t>
//	fill-space <servers> [for <t>]     free-space <servers>
//	license <server> <channels> [for <t>]
//	flap <server> times <n> down <t> up <t>
//	center-crash [<center>] [for <t>]  (default downtime 3s; the center that leads, or c<n>)
//	center-freeze [<center>] for <t>   (several centers: its process hangs; a trigger's without
//	                                   "after" strikes the leader once it stamped the change's orders,
//	                                   which leave when it wakes)
//	cut-store [<center>] [for <t>]     heal-store [<center>]
//	                                   (several centers: a center, by default the leader, cut
//	                                   from the lease store but not from the servers)
//	store-down [for <t>]               store-up   (several centers: the lease store unavailable)
//	disable <servers> [for <t>]        enable <servers>
//	remove <servers> [force] [for <t>] (force disables a server in takeover first; for: rejoin after)
//	add <servers> [to g<n>]
//	delete-group g<n> [for <t>]        add-group g<n>   (for: create it again and rejoin its servers)
//	protection g<n> on|off [for <t>]
//	failback <server>                  (manual failback)
//	broken <servers> <hostility> [for <t>]   mend <servers>
//	                                   (a broken or hostile agent: absurd-epoch, leap-epoch,
//	                                   absurd-report, refuse-takeover, fake-takeover, late [<delay>],
//	                                   replay; package history's Hostility says what each does)
//
// Expectations are checked at the end of the run and listed in the report:
//
//	expect takeover <recording> [by <standby>]   expect no-takeover <recording>
//	expect recovery <path>                       expect fault <kind>
//	expect refused <server>                      expect status <server> "<label>"
//	expect max-gap <t>                           expect max-flaps <n>
//	expect no-false-takeover                     expect settled
//	expect orphan <standby>                      expect known-issue <id>
//	expect elections <n>                         expect stale-term-refused
//	expect max-resume <t>                        (several centers: terms granted; an order an
//	                                             agent refused for a stale term; protection
//	                                             resumed within t after every leader crash)
//
// Errors name the line ([Error]). [Scenario.String] renders a scenario
// back in this format. The shipped scenarios are in simulator/scenarios
// (package scenarios embeds them).
package scenario
