// useWebSocket -- a Vue 3 composable on ws-client.js (reconnects with
// backoff, queues sends while offline).  Copy this file into your app;
// point the ws-client.js import at wherever you keep that file.
//
//   <script setup>
//   const messages = ref([]);
//   const { status, send } = useWebSocket("/broadcast?channel=news", {
//     onMessage: (e) => messages.value.push(e.json ?? e.data),
//   });
//   </script>
//
// Call it in setup() (or any effect scope): the connection is closed when
// the component unmounts (the scope is disposed).  url: ws://, wss:// or
// relative to the page; a ref or getter is watched, and a new value closes
// the old connection and opens one to the new url.  options: WSClient's
// (minDelay, maxDelay, stableAfter, maxQueue, heartbeat, protocols; see
// ws-client.js) plus onMessage(event), onOpen(), onClose(event); event.data
// is the message (string or ArrayBuffer), event.json the parsed JSON text
// or undefined.
// Returns refs status ("connecting", "open", "closed"; "connecting" also
// while waiting to reconnect) and data (the last message's data), and
// send(data) / sendJSON(value): true when sent at once, false when queued
// (sent on (re)connect) or after the scope is gone; close() closes for good.
import { getCurrentScope, onScopeDispose, ref, shallowRef, toValue, watch }
  from "vue";
import { WSClient } from "/ws-client.js";

export function useWebSocket(url, options = {}) {
  const { onMessage, onOpen, onClose, ...clientOptions } = options;
  const status = ref("connecting");
  const data = shallowRef(null);
  let client = null;

  function open(u) {
    client?.close(1000, "url changed");
    status.value = "connecting";
    const c = new WSClient(u, clientOptions);
    client = c;
    c.addEventListener("open", () => { status.value = "open"; onOpen?.(); });
    c.addEventListener("close", (e) => {
      if (client === c) status.value = e.willReconnect ? "connecting" : "closed";
      onClose?.(e);
    });
    c.addEventListener("message", (e) => { data.value = e.data; onMessage?.(e); });
  }

  function close() {
    client?.close(1000, "closed");
    client = null;
    status.value = "closed";
  }

  watch(() => toValue(url), open, { immediate: true });
  if (getCurrentScope()) onScopeDispose(close);
  return {
    status, data, close,
    send: (d) => !!client?.send(d),
    sendJSON: (v) => !!client?.sendJSON(v),
  };
}
