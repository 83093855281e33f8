// useWebSocket -- a React hook on ws-client.js (reconnects with backoff,
// queues sends while offline).  Copy this file into your app; point the
// ws-client.js import at wherever you keep that file.
//
//   const { readyState, lastMessage, send, sendJSON } =
//       useWebSocket("/broadcast?channel=news", {
//         onMessage: (e) => setItems((xs) => [...xs, e.json ?? e.data]),
//       });
//
// url: ws://, wss:// or relative to the page ("/echo").  A new url closes
// the old connection and opens one to the new url.
// options: WSClient's (minDelay, maxDelay, stableAfter, maxQueue,
// heartbeat, protocols; see ws-client.js), read when the url changes, plus
// onMessage(event), onOpen(), onClose(event): always the latest ones given
// (no reconnection when they change).  event.data is the message (string
// or ArrayBuffer), event.json the parsed JSON text or undefined.
// Returns readyState (0 connecting or waiting to reconnect, 1 open, 3
// closed), lastMessage (the last "message" event, null before), and
// send(data) / sendJSON(value): stable functions; true when sent at once,
// false when queued (sent on (re)connect) or after unmount.
//
// StrictMode mounts, unmounts and mounts again: the first client is closed
// before it opens a socket (WSClient opens in a microtask), so one
// connection is made, not two.
import { useCallback, useEffect, useRef, useState } from "react";
import { WSClient } from "/ws-client.js";

export function useWebSocket(url, options = {}) {
  const [readyState, setReadyState] = useState(0);
  const [lastMessage, setLastMessage] = useState(null);
  const client = useRef(null);
  const latest = useRef(options);
  latest.current = options;

  useEffect(() => {
    const { onMessage, onOpen, onClose, ...clientOptions } = latest.current;
    const c = new WSClient(url, clientOptions);
    client.current = c;
    setReadyState(0);
    c.addEventListener("open", () => {
      setReadyState(1);
      latest.current.onOpen?.();
    });
    c.addEventListener("close", (e) => {
      // The close of a client this hook has replaced (a new url) comes
      // after the new one's state: it must not say "closed" over it.
      if (client.current === c) setReadyState(e.willReconnect ? 0 : 3);
      latest.current.onClose?.(e);
    });
    c.addEventListener("message", (e) => {
      setLastMessage(e);
      latest.current.onMessage?.(e);
    });
    return () => {
      c.close(1000, "unmounted");
      if (client.current === c) client.current = null;
    };
  }, [url]);

  const send = useCallback((data) => !!client.current?.send(data), []);
  const sendJSON = useCallback((v) => !!client.current?.sendJSON(v), []);
  return { readyState, lastMessage, send, sendJSON };
}
