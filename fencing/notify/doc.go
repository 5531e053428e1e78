// Package notify delivers what vigil has to say to the outside world
// without ever making a failover wait for it: keepalived-compatible notify
// scripts (notify_master, notify_backup, notify_fault, notify_stop and
// notify) run strictly in order per instance, the notify FIFO with
// keepalived's line format, SMTP alerts in keepalived's style, and a JSON
// webhook.
//
// Everything is a Sink behind a Dispatcher, whose Publish never blocks:
// each sink has its own bounded queue and goroutine, and a notification
// that finds a queue full is dropped and counted. A sink that is down or
// hangs delays nothing but itself.
//
// Ordering contract, per VRRP instance (keepalived's, made strict):
//
//  1. The agent publishes a Transition after the state change took effect
//     (VIP added or removed, adverts started or stopped).
//  2. The per-state script (notify_master, ...) runs and is waited for
//     (or killed at its timeout); then the generic notify script with
//     "INSTANCE|GROUP name STATE priority" appended to its arguments.
//  3. Only then do the scripts of the instance's next transition start.
//     Transitions of different instances run concurrently.
//  4. The FIFO line `INSTANCE "name" STATE priority` is written in
//     publication order; a reader that is slow or absent costs lines
//     (dropped and counted), never time.
package notify
