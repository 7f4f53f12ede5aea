// Loaded with `node --import` before Portkey's gateway, which has no listen-address setting and would listen on every
// interface: the benchmark's servers listen on 127.0.0.1 only.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] !== null && typeof args[0] === 'object') {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (args.length > 1 && (args[1] === undefined || typeof args[1] === 'string')) {
    args[1] = '127.0.0.1';
  } else {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};

// Portkey 1.15.2 adds its headers to the upstream's streamed response, whose headers Node's fetch makes immutable, and
// answers every stream with an error (Portkey-AI/gateway#1389, #1550). Its own fix re-wraps that response; so does this.
const fetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await fetch(...args);
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return response;
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) });
};
