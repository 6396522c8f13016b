// server/transport owns moving Raft messages between members: the Transport seam (transport.ts),
// its HTTP implementation on the peer port (http-transport.ts), the peer-port router other peer
// routes mount on (peer-server.ts), the wire codec (codec.ts) and per-peer counters (peer-stats.ts).
// It knows nothing about Raft state; it never retries a message (Raft does).
export type { Transport, PeerStats } from './transport.js'
export { HttpTransport, RAFT_MSG_PATH, RAFT_SNAPSHOT_PATH, HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO } from './http-transport.js'
export type { HttpTransportOptions } from './http-transport.js'
export { PeerServer, sendText } from './peer-server.js'
export type { PeerRouteHandler, PeerServerOptions } from './peer-server.js'
export { encodeMessage, encodeBatch, decodeBatch, FrameDecoder, CodecError, MAX_FRAME_BYTES } from './codec.js'
