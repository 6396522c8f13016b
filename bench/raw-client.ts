// A minimal keep-alive HTTP/1.1 client over node:net, for the load generator only: one request
// in flight per socket, Content-Length and chunked bodies, nothing else (no redirects, no
// pipelining, no TLS). It exists because it costs far less CPU per request than node:http.
import { connect, type Socket } from 'node:net'
import { encodeRequest, type BenchRequest, type Conn, type Done } from './conn.js'

const CRLFCRLF = Buffer.from('\r\n\r\n')

const enum State { Idle, Head, Length, ChunkSize, ChunkData, ChunkCrlf, Trailer }

/** One connection; see Conn. Connects lazily on the first send. */
export class RawConn implements Conn {
  private socket: Socket | null = null
  private state = State.Idle
  private done: Done | null = null
  private onHeaders: (() => void) | undefined
  private wantBody = false
  private status = 0
  private remaining = 0
  private head: Buffer | null = null // partial response head
  private parts: Buffer[] = [] // body pieces when wantBody
  private closed = false
  private inExtension = false
  private generation = 0 // bumped per send, so a callback that sends again is detected

  constructor(private readonly host: string, private readonly port: number) {}

  send(req: BenchRequest, done: Done, onHeaders?: () => void): void {
    if (this.done !== null) throw new Error('RawConn: request already in flight')
    if (this.closed) { done(0, null, new Error('connection closed')); return }
    if (this.socket === null) this.open()
    this.done = done
    this.generation++
    this.onHeaders = onHeaders
    this.wantBody = req.wantBody === true
    this.state = State.Head
    this.head = null
    // Static requests carry their bytes (prebuild()); dynamic ones (a new key per request) are
    // written as one string, the only per-request allocation.
    if (req.encoded !== undefined) this.socket!.write(req.encoded)
    else this.socket!.write(encodeRequest(req), 'latin1')
  }

  close(): void {
    this.closed = true
    if (this.socket !== null) this.socket.destroy()
    this.fail(new Error('connection closed'))
  }

  private open(): void {
    const s = connect(this.port, this.host)
    s.setNoDelay(true)
    s.on('data', (chunk: Buffer) => this.onData(chunk))
    s.on('error', (err) => this.fail(err))
    s.on('close', () => {
      this.socket = null
      this.fail(new Error('connection closed by server'))
    })
    this.socket = s
  }

  private fail(err: Error): void {
    const done = this.done
    if (done === null) return
    this.reset()
    done(0, null, err)
  }

  private reset(): void {
    this.done = null
    this.onHeaders = undefined
    this.state = State.Idle
    this.head = null
    this.parts = []
  }

  private finish(): void {
    const done = this.done!
    const status = this.status
    let body: Buffer | null = null
    if (this.wantBody) body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts)
    this.reset()
    done(status, body, null)
  }

  private takeBody(chunk: Buffer, from: number, to: number): void {
    if (this.wantBody && to > from) this.parts.push(chunk.subarray(from, to))
  }

  private onData(chunk: Buffer): void {
    let i = 0
    const n = chunk.length
    while (i < n) {
      switch (this.state) {
        case State.Idle:
          return // stray bytes after a response: ignore
        case State.Head: {
          let buf = chunk
          let base = i
          if (this.head !== null) { buf = Buffer.concat([this.head, chunk.subarray(i)]); base = 0 }
          const end = buf.indexOf(CRLFCRLF, base)
          if (end < 0) { this.head = buf.subarray(base); return }
          const consumedFromChunk = this.head === null ? end + 4 - i : end + 4 - this.head.length
          this.head = null
          const gen = this.generation
          const onHeaders = this.onHeaders
          this.parseHead(buf, base, end)
          if (gen !== this.generation || (this.state as State) === State.Idle) return // finished (empty body)
          i += consumedFromChunk
          if (onHeaders !== undefined) {
            onHeaders()
            if (gen !== this.generation || (this.state as State) === State.Idle) return
          }
          break
        }
        case State.Length: {
          const take = Math.min(this.remaining, n - i)
          this.takeBody(chunk, i, i + take)
          i += take
          this.remaining -= take
          if (this.remaining === 0) { this.finish(); return }
          break
        }
        case State.ChunkSize: {
          // Hex size, optional ";extension", CRLF; a line split across packets is fine.
          while (i < n) {
            const c = chunk[i++]
            if (c === 0x0a) {
              this.state = this.remaining === 0 ? State.Trailer : State.ChunkData
              this.inExtension = false
              break
            }
            if (this.inExtension || c === 0x0d) continue
            const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1
            if (d < 0) this.inExtension = true
            else this.remaining = this.remaining * 16 + d
          }
          break
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - i)
          this.takeBody(chunk, i, i + take)
          i += take
          this.remaining -= take
          if (this.remaining === 0) { this.state = State.ChunkCrlf; this.remaining = 2 }
          break
        }
        case State.ChunkCrlf: {
          const take = Math.min(this.remaining, n - i)
          i += take
          this.remaining -= take
          if (this.remaining === 0) this.state = State.ChunkSize
          break
        }
        case State.Trailer: {
          // After the last chunk: CRLF (no trailers are expected from etcd or raftkv).
          while (i < n) {
            if (chunk[i++] === 0x0a) { this.finish(); return }
          }
          break
        }
      }
    }
  }

  private parseHead(buf: Buffer, start: number, end: number): void {
    // "HTTP/1.1 200 OK"
    this.status = (buf[start + 9] - 48) * 100 + (buf[start + 10] - 48) * 10 + (buf[start + 11] - 48)
    if (this.status >= 500) this.wantBody = true // rare; lets the bench report the server's cause
    const head = buf.toString('latin1', start, end).toLowerCase()
    const te = head.indexOf('\ntransfer-encoding:')
    if (te >= 0 && head.indexOf('chunked', te) >= 0) {
      this.state = State.ChunkSize
      this.remaining = 0
      return
    }
    const cl = head.indexOf('\ncontent-length:')
    let len = 0
    if (cl >= 0) {
      let j = cl + 16
      while (head.charCodeAt(j) === 32) j++
      for (let c = head.charCodeAt(j); c >= 48 && c <= 57; c = head.charCodeAt(++j)) len = len * 10 + c - 48
    }
    if (len === 0 || this.status === 204 || this.status === 304) { this.finish(); return }
    this.state = State.Length
    this.remaining = len
  }
}

/** ConnFactory for RawConn. */
export function rawConnFactory(host: string, port: number): Conn {
  return new RawConn(host, port)
}
