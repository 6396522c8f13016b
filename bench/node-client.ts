// Load-generator connections built on node:http with a keep-alive Agent (maxSockets = clients
// on that member), kept as the reference implementation to compare CPU cost against
// raw-client.ts (`--generator http`).
import { Agent, request } from 'node:http'
import type { BenchRequest, Conn, ConnFactory, Done } from './conn.js'

const FORM = 'application/x-www-form-urlencoded'

/** Returns a ConnFactory whose connections to one member share one keep-alive Agent. */
export function nodeConnFactory(): ConnFactory & { destroy(): void } {
  const agents = new Map<string, Agent>()
  const factory = (host: string, port: number, perMember: number): Conn => {
    const key = `${host}:${port}`
    let agent = agents.get(key)
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, perMember), maxFreeSockets: Math.max(1, perMember) })
      agents.set(key, agent)
    }
    return new NodeConn(host, port, agent)
  }
  return Object.assign(factory, {
    destroy(): void {
      for (const a of agents.values()) a.destroy()
      agents.clear()
    },
  })
}

class NodeConn implements Conn {
  private inflight: ReturnType<typeof request> | null = null
  private closed = false
  constructor(private readonly host: string, private readonly port: number, private readonly agent: Agent) {}

  send(req: BenchRequest, done: Done, onHeaders?: () => void): void {
    if (this.closed) { done(0, null, new Error('connection closed')); return }
    let finished = false
    const finish = (status: number, body: Buffer | null, err: Error | null): void => {
      if (finished) return
      finished = true
      this.inflight = null
      done(status, body, err)
    }
    const headers: Record<string, string | number> = req.body === undefined ? {} : { 'content-type': FORM, 'content-length': req.body.length }
    const r = request({ host: this.host, port: this.port, method: req.method, path: req.path, agent: this.agent, headers }, (res) => {
      if (onHeaders !== undefined) onHeaders()
      const status = res.statusCode ?? 0
      if (req.wantBody === true || status >= 500) {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => finish(status, Buffer.concat(parts), null))
      } else {
        res.on('end', () => finish(status, null, null))
        res.resume()
      }
      res.on('error', (err) => finish(0, null, err))
      res.on('aborted', () => finish(0, null, new Error('response aborted')))
    })
    r.on('error', (err) => finish(0, null, err))
    this.inflight = r
    if (req.body !== undefined) r.end(req.body, 'latin1')
    else r.end()
  }

  close(): void {
    this.closed = true
    if (this.inflight !== null) this.inflight.destroy()
  }
}
