// Per-member TCP proxies for Raft peer traffic, used to cut and slow links between members.
//
// Design: every member advertises the URL of ITS proxy (http://127.0.0.1:<proxyPort>) as its peer
// URL, so --initial-cluster is identical for all members (member ids derive from it) and all peer
// traffic to member j goes through proxy j, which forwards to j's real --listen-peer-urls port.
// The proxy learns which member dialed it from the kernel, not from the protocol: the accepted
// socket's remote port is the dialer's local port; /proc/net/tcp maps that to a socket inode and
// /proc/<pid>/fd of each member process shows which one owns it. This needs no root, no iptables,
// no network namespaces and no cooperation from the server binary (etcd or raftkv alike).
// Linux only. Must not touch any process or socket other than the ones it accepted.

import net from 'node:net'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** Which member indexes own which pids, kept current by the cluster (restarts change pids). */
export type PidTable = Map<number, number> // pid -> member index

interface Conn {
  from: number | undefined
  to: number
  client: net.Socket
  upstream: net.Socket
  held: boolean // black-holed: nothing forwarded until healed (then destroyed)
}

/** The link state shared by all proxies of one cluster. Links are symmetric. */
export class PeerNetwork {
  private readonly blocked = new Set<string>()
  private readonly delays = new Map<string, number>()
  private readonly conns = new Set<Conn>()
  private readonly servers: net.Server[] = []
  /** Connections whose dialer could not be identified (counted, for the report). */
  unidentified = 0
  accepted = 0

  constructor(readonly pids: PidTable) {}

  private static link(a: number, b: number): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`
  }

  isBlocked(a: number, b: number): boolean {
    return this.blocked.has(PeerNetwork.link(a, b))
  }

  delayOf(a: number, b: number): number {
    return this.delays.get(PeerNetwork.link(a, b)) ?? 0
  }

  /** Cuts the link between a and b in both directions: current connections stall, new ones hang. */
  block(a: number, b: number): void {
    this.blocked.add(PeerNetwork.link(a, b))
    for (const c of this.conns) if (c.from !== undefined && PeerNetwork.link(c.from, c.to) === PeerNetwork.link(a, b)) this.hold(c)
  }

  /** Cuts every link between the groups (members not listed keep all their links). */
  partition(groups: number[][]): void {
    for (let g = 0; g < groups.length; g++)
      for (let h = g + 1; h < groups.length; h++) for (const a of groups[g]!) for (const b of groups[h]!) this.block(a, b)
  }

  /** Adds a one-way latency of `ms` to each direction of the a-b link. */
  slow(a: number, b: number, ms: number): void {
    this.delays.set(PeerNetwork.link(a, b), ms)
  }

  /** Restores every link; held connections are closed so both sides reconnect cleanly. */
  heal(): void {
    this.blocked.clear()
    this.delays.clear()
    for (const c of this.conns) if (c.held) this.drop(c)
  }

  /** Describes the current cuts, e.g. "0-1 0-2". */
  describe(): string {
    return [...this.blocked].join(' ') || 'none'
  }

  /** Starts a proxy for member `to` forwarding to 127.0.0.1:targetPort. Resolves with its port. */
  async listen(to: number, targetPort: number, port = 0): Promise<number> {
    const server = net.createServer({ pauseOnConnect: true }, (client) => this.accept(to, targetPort, client))
    this.servers.push(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    return (server.address() as net.AddressInfo).port
  }

  /** Closes all proxies and connections. */
  async close(): Promise<void> {
    for (const c of this.conns) this.drop(c)
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  }

  private accept(to: number, targetPort: number, client: net.Socket): void {
    this.accepted++
    client.on('error', () => {})
    const from = identifyDialer(client.remotePort ?? 0, (client.localPort ?? 0), this.pids)
    if (from === undefined) this.unidentified++
    const upstream = net.connect(targetPort, '127.0.0.1')
    upstream.on('error', () => {})
    const c: Conn = { from, to, client, upstream, held: false }
    this.conns.add(c)
    const cleanup = () => this.drop(c)
    client.on('close', cleanup)
    upstream.on('close', cleanup)
    // An unidentified dialer is treated as cut off from anyone j is cut off from (conservative).
    const cut = from !== undefined ? this.isBlocked(from, to) : [...this.blocked].some((l) => l.split('-').includes(String(to)))
    if (cut) {
      this.hold(c)
      return
    }
    this.pump(c, client, upstream)
    this.pump(c, upstream, client)
    client.resume()
  }

  private pump(c: Conn, src: net.Socket, dst: net.Socket): void {
    // Delayed delivery through ONE FIFO queue per direction drained by a single timer: separate
    // timers per chunk could fire out of order and corrupt the byte stream.
    const queue: { at: number; chunk: Buffer }[] = []
    let timer: NodeJS.Timeout | undefined
    const flush = (): void => {
      timer = undefined
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        const { chunk } = queue.shift()!
        if (!c.held && !dst.destroyed) dst.write(chunk)
      }
      if (queue.length > 0) timer = setTimeout(flush, Math.max(1, queue[0]!.at - Date.now()))
    }
    src.on('data', (chunk: Buffer) => {
      if (c.held) return
      const d = c.from !== undefined ? this.delayOf(c.from, c.to) : 0
      if (d <= 0 && queue.length === 0) {
        dst.write(chunk)
        return
      }
      const at = Math.max(Date.now() + d, queue.length > 0 ? queue[queue.length - 1]!.at : 0)
      queue.push({ at, chunk })
      if (timer === undefined) timer = setTimeout(flush, Math.max(1, at - Date.now()))
    })
  }

  private hold(c: Conn): void {
    // Stop reading: senders stall on TCP flow control, like packets silently dropped.
    c.held = true
    c.client.pause()
    c.upstream.pause()
  }

  private drop(c: Conn): void {
    if (!this.conns.delete(c)) return
    c.client.destroy()
    c.upstream.destroy()
  }
}

/**
 * Finds the member whose process owns the TCP socket 127.0.0.1:dialerPort -> 127.0.0.1:proxyPort.
 * Returns undefined when no member owns it (or the socket is already gone).
 */
export function identifyDialer(dialerPort: number, proxyPort: number, pids: PidTable): number | undefined {
  const inode = socketInode(dialerPort, proxyPort)
  if (inode === undefined) return undefined
  const target = `socket:[${inode}]`
  for (const [pid, member] of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return member
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return undefined
}

function hexPort(p: number): string {
  return p.toString(16).toUpperCase().padStart(4, '0')
}

/** Inode of the IPv4 socket with local 127.0.0.1:localPort and remote 127.0.0.1:remotePort. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const local = `0100007F:${hexPort(localPort)}`
  const remote = `0100007F:${hexPort(remotePort)}`
  const text = readFileSync('/proc/net/tcp', 'utf8')
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f[1] === local && f[2] === remote) return f[9]
  }
  return undefined
}
