package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

const demoServerUsage = `Usage: vigil demo-server --name NAME [--listen ADDR]

Internal to 'vigil demo': a real server answering HTTP GET / with its name
and holding WebSockets on /ws that echo every message prefixed with the
name and also push a message of their own every 200 ms.
`

func init() {
	c := &command{name: "demo-server", summary: "a demo real server (HTTP and WebSocket)", usage: demoServerUsage, hidden: true}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		name := fs.String("name", "", "the server's `NAME`, sent in every answer")
		listen := fs.String("listen", ":8080", "the `ADDR` to listen on")
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		if *name == "" {
			fmt.Fprintln(stderr, "vigil demo-server: --name is required")
			return exitError{2}
		}
		srv := &http.Server{Addr: *listen, Handler: demoHandler(*name), ReadHeaderTimeout: 5 * time.Second}
		err := srv.ListenAndServe()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
	register(c)
}

func demoHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, name)
	})
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		var mu sync.Mutex
		send := func(msg string) error {
			mu.Lock()
			defer mu.Unlock()
			return websocket.Message.Send(ws, msg)
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-t.C:
					if send(fmt.Sprintf("%s push %d", name, i)) != nil {
						return
					}
				}
			}
		}()
		for {
			var msg string
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				return
			}
			if send(name+" echo "+msg) != nil {
				return
			}
		}
	}))
	return mux
}
