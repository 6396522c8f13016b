// server/transport owns moving Raft messages between members: the Transport seam (transport.ts),
// its HTTP implementation on the peer port (http-transport.ts, which routes to the senders in
// pipeline.ts, stream.ts and snapshot-sender.ts and serves the /raft routes from receivers.ts),
// the peer-port router other peer routes mount on (peer-server.ts), the wire codec (codec.ts) and
// per-peer link counters (peer-counters.ts). It knows nothing about Raft state; it never retries a
// message (Raft does).
export type { Transport, PeerLinkStats } from './transport.js'
export { HttpTransport, RAFT_MSG_PATH, RAFT_SNAPSHOT_PATH, RAFT_STREAM_PATH, HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO } from './http-transport.js'
export type { HttpTransportOptions } from './http-transport.js'
export { PeerServer, sendText } from './peer-server.js'
export type { PeerRouteHandler, PeerServerOptions } from './peer-server.js'
export { encodeMessage, encodeBatch, decodeBatch, FrameDecoder, CodecError, MAX_FRAME_BYTES } from './codec.js'
