// ws-peer.mjs -- wsd's apps on node's ws, for bench/run to compare.
//
// One WebSocketServer per path behind one http server, as in ws's README
// ("Multiple servers sharing a single HTTP/S server"); every handler is the
// README's way of doing it (broadcast: send to each client in a loop).
// permessage-deflate is switched on (ws's server default is off) so that the
// --deflate workloads negotiate it here as in the other servers (with ws's
// default threshold: messages under 1 KiB still go out uncompressed).
//
// Usage: node ws-peer.mjs [--port N] [--period-ms MS]
import { createServer } from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';

let port = 0;
let periodMs = 1000;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port' && i + 1 < argv.length) port = Number(argv[++i]);
  else if (argv[i] === '--period-ms' && i + 1 < argv.length) periodMs = Number(argv[++i]);
  else {
    console.error('usage: node ws-peer.mjs [--port N] [--period-ms MS]');
    process.exit(2);
  }
}

const opts = { noServer: true, perMessageDeflate: true };
const servers = {
  '/echo': new WebSocketServer(opts),
  '/hello': new WebSocketServer(opts),
  '/broadcast': new WebSocketServer(opts),
  '/counter': new WebSocketServer(opts),
  '/relay': new WebSocketServer(opts),
};

// Sends data to every open client of wss.
function publish(wss, data) {
  for (const client of wss.clients)
    if (client.readyState === WebSocket.OPEN) client.send(data);
}

servers['/echo'].on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

servers['/hello'].on('connection', (ws) => {
  ws.once('message', (data) => {
    ws.send(`Hello ${data}!`);
    ws.close(1000);
  });
});

let value = 0;
const counter = servers['/counter'];
const usersEvent = () => JSON.stringify({ type: 'users', count: counter.clients.size });
const valueEvent = () => JSON.stringify({ type: 'value', value });
counter.on('connection', (ws) => {
  publish(counter, usersEvent());
  ws.send(valueEvent());
  ws.on('message', (data) => {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.action === 'minus') value--;
    else if (event.action === 'plus') value++;
    else return;
    publish(counter, valueEvent());
  });
  ws.on('close', () => publish(counter, usersEvent()));
});

const relay = servers['/relay'];
relay.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of relay.clients)
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  });
});

// The broadcast tick, fixed-rate: the next deadline follows the last one and
// ticks that overran are skipped.
const bcast = servers['/broadcast'];
let deadline = performance.now();
// The time with microseconds, ISO 8601 UTC like wsd's.
function stamp() {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  return iso.slice(0, -1) + String(us % 1000).padStart(3, '0') + 'Z';
}
function tick() {
  publish(bcast, stamp());
  schedule();
}
function schedule() {
  const now = performance.now();
  deadline += periodMs;
  while (deadline <= now) deadline += periodMs;
  setTimeout(tick, deadline - now);
}

const server = createServer((req, res) => {
  res.writeHead(404).end('not found\n');
});
server.on('upgrade', (req, socket, head) => {
  const wss = servers[new URL(req.url, 'http://x').pathname];
  if (!wss) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
  schedule();
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
