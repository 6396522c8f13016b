// A byte-level check of HTTP/1.1 request framing, run on a client connection's bytes before Node's
// parser sees them (server/http/front-door.ts feeds it). It finds what llhttp accepts but Go's
// server (and so etcd) refuses, and that no handler could notice afterwards because the parser
// hides the raw bytes:
//  - a request line that is not exactly `METHOD SP target SP HTTP/d.d` (two spaces in a row, a
//    leading or trailing space, a space inside the target, no version, `http/1.1`, `HTTP/1`,
//    `HTTP/01.1`), or whose major version is not 1;
//  - a chunk-size line with more than 16 hex digits (leading zeros included), or 4096 bytes or
//    more long: Go's chunked reader gives up on it ("http chunk length too large", "header line
//    too long") where llhttp reads on and decodes the body. Chunking both refuse (a byte that is
//    not hex in the size, data not followed by CRLF) gets Go's reason too ("invalid byte in chunk
//    length", "malformed chunked encoding") instead of the parser's bare 400.
// To step from one pipelined request to the next it follows the framing: the head up to its empty
// line, then Content-Length bytes or the chunks. It keeps a few numbers, never the bytes, so a
// split at any byte costs nothing and bodies are skipped by counting. Anything odd that is not one
// of the above (a header llhttp rejects, a transfer coding the front door refuses, an Upgrade) ends
// the checking of that connection: llhttp or the front door then answers as before.

/** What the scanner found wrong, once it found it. */
export type FramingViolation =
  /** `answer`: what Go's server says when this is not the connection's first request (400 malformed, 505 major version not 1). */
  | { kind: 'request-line'; answer: 400 | 505 }
  | { kind: 'chunking'; cause: string }

/** Longest chunk-size line Go reads, its LF included (bufio's 4096-byte buffer). */
const MAX_CHUNK_LINE = 4096
/** Hex digits Go's parseHexUint takes in a chunk size; the 17th fails the body. */
const MAX_CHUNK_DIGITS = 16

const enum S {
  MsgStart,
  Method,
  TargetStart,
  Target,
  VersionStart,
  Version,
  LineCr,
  FieldStart,
  Name,
  ValueLength,
  ValueCoding,
  ValueOther,
  ValueCr,
  HeadEndCr,
  Body,
  ChunkSize,
  ChunkSizeCr,
  ChunkExt,
  ChunkExtCr,
  /** A chunk-size line Go refuses, read to its end (or to 4096 bytes) for Go's reason. */
  ChunkBad,
  ChunkData,
  ChunkDataEnd,
  ChunkDataCr,
  TrailerStart,
  TrailerLine,
  TrailerEndCr,
  /** Not checked any further (llhttp or the front door deals with this connection). */
  Off,
  /** A violation was found: nothing more goes to the parser. */
  Refused,
}

const SP = 0x20
const HT = 0x09
const CR = 0x0d
const LF = 0x0a
const COLON = 0x3a
const DOT = 0x2e
const SEMI = 0x3b

// Header names that change the framing, matched byte by byte in lower case.
const CONTENT_LENGTH = Buffer.from('content-length')
const TRANSFER_ENCODING = Buffer.from('transfer-encoding')
const UPGRADE = Buffer.from('upgrade')
const CHUNKED = Buffer.from('chunked')
const HTTP_SLASH = Buffer.from('HTTP/')
/** `HTTP/1.1`: Go's version syntax has exactly one digit on each side of the dot. */
const VERSION_LEN = 8
/** First bytes of the names above, either case. */
const FRAMING_INITIAL = new Uint8Array(256)
for (const c of 'ctuCTU') FRAMING_INITIAL[c.charCodeAt(0)] = 1
/** The typed-array search (a V8 builtin): no call into C++, as Buffer.indexOf makes, for short lines. */
const u8IndexOf = Uint8Array.prototype.indexOf
const M_CL = 1
const M_TE = 2
const M_UP = 4

/** Value of a hex digit, or -1. */
function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30
  const l = b | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

/**
 * The framing check of one connection. `scan` takes the connection's bytes in order, in pieces
 * of any size, and says how many leading bytes of each piece may go on to the parser.
 */
export class FramingScanner {
  private s: S = S.MsgStart
  /** Request heads completed so far on this connection. */
  heads = 0
  /** Set once the scanner refused the connection's bytes. */
  violation: FramingViolation | undefined
  // Head state.
  private nameLen = 0
  private nameMatch = 0
  private contentLength = 0
  private sawLength = false
  private sawCoding = false
  private chunked = false
  private codingLen = 0
  private codingBad = false
  private codingEnded = false
  // Body state.
  private remaining = 0
  private digits = 0
  private lineLen = 0
  private lineReleased = false
  private sizeTooBig = false
  private badCause = ''
  private versionLen = 0
  private major = -1

  /** Returns how many leading bytes of `buf` may be parsed; fewer than all once `violation` is set or a chunk-size line is being judged. */
  scan(buf: Uint8Array): number {
    let s = this.s
    if (s === S.Off) return buf.length
    if (s === S.Refused) return 0
    const n = buf.length
    // Where the current request line began in this piece (its earlier part went on already).
    let lineStart = 0
    // Where a chunk-size line with too many digits began being held back.
    let held = s === S.ChunkBad ? 0 : -1
    let i = 0
    for (; i < n; i++) {
      const b = buf[i]!
      switch (s) {
        case S.MsgStart:
          // llhttp skips empty lines between messages; a space first is a malformed request line.
          if (b === CR || b === LF) continue
          if (b === SP) return this.refuse(i, { kind: 'request-line', answer: 400 })
          lineStart = i
          this.lineReleased = false
          s = S.Method
          // The common case, a well-formed line whole in this piece, takes a few searches; anything
          // else is judged byte by byte below.
          if (this.wellFormedLine(buf, i)) {
            i = u8IndexOf.call(buf, LF, i)
            s = this.startHead()
          }
          continue
        case S.Method:
          if (b === SP) s = S.TargetStart
          else if (b === CR || b === LF) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
          continue
        case S.TargetStart:
          if (b === SP || b === CR || b === LF) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
          s = S.Target
          continue
        case S.Target:
          if (b === SP) s = S.VersionStart
          else if (b === CR || b === LF) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
          continue
        case S.VersionStart:
          this.versionLen = 0
          this.major = -1
          if (!this.versionByte(b)) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
          s = S.Version
          continue
        case S.Version:
          if (b === CR || b === LF) {
            // Go reads `HTTP/d.d` only; etcd's listener takes major version 1 only.
            if (this.versionLen !== VERSION_LEN) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
            if (this.major !== 1) return this.refuse(lineStart, { kind: 'request-line', answer: 505 })
            s = b === CR ? S.LineCr : this.startHead()
            continue
          }
          if (!this.versionByte(b)) return this.refuse(lineStart, { kind: 'request-line', answer: 400 })
          continue
        case S.LineCr:
          s = b === LF ? this.startHead() : S.Off
          if (s === S.Off) break
          continue
        case S.FieldStart:
          if (b === CR) s = S.HeadEndCr
          else if (b === LF) s = this.endHead()
          else if (b === SP || b === HT) s = S.ValueOther // an obs-fold line: llhttp judges it
          else if (!FRAMING_INITIAL[b]) s = S.ValueOther // no header that changes the framing starts so
          else {
            s = S.Name
            this.nameLen = 0
            this.nameMatch = M_CL | M_TE | M_UP
            s = this.nameByte(b)
          }
          if (s === S.Off) break
          continue
        case S.Name:
          s = this.nameByte(b)
          if (s === S.Off) break
          continue
        case S.ValueLength:
          if (b >= 0x30 && b <= 0x39) {
            this.contentLength = this.contentLength * 10 + (b - 0x30)
            if (this.contentLength > Number.MAX_SAFE_INTEGER / 16) s = S.Off
          } else if (b === CR) s = S.ValueCr
          else if (b === LF) s = S.FieldStart
          else if (b !== SP && b !== HT) s = S.Off // not a length llhttp takes either
          if (s === S.Off) break
          continue
        case S.ValueCoding:
          if (b === CR || b === LF) {
            this.chunked = !this.codingBad && this.codingLen === CHUNKED.length
            // Any other coding is the front door's (501); llhttp frames it, not us.
            if (!this.chunked) s = S.Off
            else s = b === CR ? S.ValueCr : S.FieldStart
            if (s === S.Off) break
          } else if (b === SP || b === HT) {
            if (this.codingLen > 0) this.codingEnded = true
          } else if (this.codingEnded || this.codingLen >= CHUNKED.length || (b | 0x20) !== CHUNKED[this.codingLen]) this.codingBad = true
          else this.codingLen++
          continue
        case S.ValueOther: {
          // Nothing in this line matters: on to its end (a stray CR in it is llhttp's to refuse).
          const lf = b === LF ? i : u8IndexOf.call(buf, LF, i)
          if (lf < 0) i = n
          else {
            i = lf
            s = S.FieldStart
          }
          continue
        }
        case S.ValueCr:
          s = b === LF ? S.FieldStart : S.Off
          if (s === S.Off) break
          continue
        case S.HeadEndCr:
          s = b === LF ? this.endHead() : S.Off
          if (s === S.Off) break
          continue
        case S.Body: {
          const take = Math.min(this.remaining, n - i)
          this.remaining -= take
          i += take - 1
          if (this.remaining === 0) s = S.MsgStart
          continue
        }
        case S.ChunkSize: {
          if (++this.lineLen >= MAX_CHUNK_LINE) return this.refuse(i, { kind: 'chunking', cause: 'header line too long' })
          const v = hexValue(b)
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_DIGITS) {
              s = this.badLine('http chunk length too large')
              held = i
              continue
            }
            // Past 2^49 the size is no longer counted exactly (nobody sends that much); the digits still are.
            if (this.remaining <= Number.MAX_SAFE_INTEGER / 16) this.remaining = this.remaining * 16 + v
            else this.sizeTooBig = true
            continue
          }
          // An empty size: Go reads it as 0 and then fails on the data as trailers; llhttp refuses it.
          if (this.digits === 0 && (b === SEMI || b === CR || b === LF || b === SP || b === HT)) s = S.Off
          else if (b === SEMI) s = S.ChunkExt
          else if (b === CR) s = S.ChunkSizeCr
          else if (b === LF) s = this.endChunkSize()
          else {
            // White space too: llhttp refuses it at once, so it must not see it. (Go would take
            // it at the very end of the line; raftkv cannot, its parser refuses.)
            s = this.badLine('invalid byte in chunk length')
            held = i
            continue
          }
          if (s === S.Off) break
          continue
        }
        case S.ChunkSizeCr:
          if (++this.lineLen >= MAX_CHUNK_LINE) return this.refuse(i, { kind: 'chunking', cause: 'header line too long' })
          if (b === LF) s = this.endChunkSize()
          else {
            s = this.badLine('invalid byte in chunk length')
            held = i
          }
          continue
        case S.ChunkExt:
          if (++this.lineLen >= MAX_CHUNK_LINE) return this.refuse(i, { kind: 'chunking', cause: 'header line too long' })
          if (b === CR) s = S.ChunkExtCr
          else if (b === LF) s = this.endChunkSize()
          continue
        case S.ChunkExtCr:
          if (++this.lineLen >= MAX_CHUNK_LINE) return this.refuse(i, { kind: 'chunking', cause: 'header line too long' })
          s = b === LF ? this.endChunkSize() : S.Off // a CR inside an extension: Go ignores it, llhttp refuses
          if (s === S.Off) break
          continue
        case S.ChunkBad:
          // Go reads the whole line before it judges it: a line too long is that, whatever its size says.
          if (++this.lineLen >= MAX_CHUNK_LINE) return this.refuse(held, { kind: 'chunking', cause: 'header line too long' })
          if (b === LF) return this.refuse(held, { kind: 'chunking', cause: this.badCause })
          continue
        case S.ChunkData: {
          const take = Math.min(this.remaining, n - i)
          this.remaining -= take
          i += take - 1
          if (this.remaining === 0) s = S.ChunkDataEnd
          continue
        }
        case S.ChunkDataEnd:
          // Go reads exactly CRLF after the data.
          if (b !== CR) return this.refuse(i, { kind: 'chunking', cause: 'malformed chunked encoding' })
          s = S.ChunkDataCr
          continue
        case S.ChunkDataCr:
          if (b !== LF) return this.refuse(i, { kind: 'chunking', cause: 'malformed chunked encoding' })
          s = this.startChunkSize()
          continue
        case S.TrailerStart:
          if (b === CR) s = S.TrailerEndCr
          else if (b === LF) s = S.MsgStart
          else s = S.TrailerLine
          continue
        case S.TrailerLine:
          if (b === LF) s = S.TrailerStart
          continue
        case S.TrailerEndCr:
          s = b === LF ? S.MsgStart : S.Off
          if (s === S.Off) break
          continue
      }
      // Only S.Off gets here: stop checking this connection.
      break
    }
    this.s = s
    if (held >= 0) return held
    // A request line not yet complete is held back whole, so the parser never sees part of a line
    // that turns out malformed (it would answer its own 400 where etcd closes).
    if (s >= S.Method && s <= S.LineCr && !this.lineReleased) return lineStart
    return n
  }

  /** Whether the bytes held back at the end of the last piece are part of a request line (to keep for the next piece). */
  get holdingLine(): boolean {
    return this.s >= S.Method && this.s <= S.LineCr && !this.lineReleased
  }

  /** Stops holding back the current request line (it grew too long to keep): the rest of it passes as it comes. */
  releaseLine(): void {
    this.lineReleased = true
  }

  /** Whether `buf` holds, from `at`, a whole request line `METHOD SP target SP HTTP/1.d` CRLF (or LF). */
  private wellFormedLine(buf: Uint8Array, at: number): boolean {
    const lf = u8IndexOf.call(buf, LF, at)
    if (lf < 0) return false
    const end = buf[lf - 1] === CR ? lf - 1 : lf
    const sp1 = u8IndexOf.call(buf, SP, at)
    if (sp1 < 0 || sp1 >= end) return false
    const sp2 = u8IndexOf.call(buf, SP, sp1 + 1)
    if (sp2 <= sp1 + 1 || end - sp2 - 1 !== VERSION_LEN) return false
    const cr = u8IndexOf.call(buf, CR, at)
    if (cr >= 0 && cr < end) return false
    const v = sp2 + 1
    return buf[v] === 0x48 && buf[v + 1] === 0x54 && buf[v + 2] === 0x54 && buf[v + 3] === 0x50 && buf[v + 4] === 0x2f && buf[v + 5] === 0x31 && buf[v + 6] === DOT && buf[v + 7]! >= 0x30 && buf[v + 7]! <= 0x39
  }

  /** One byte of the version: `HTTP/`, a digit, `.`, a digit, nothing more. */
  private versionByte(b: number): boolean {
    const k = this.versionLen++
    if (k < 5) return b === HTTP_SLASH[k]
    if (k === 6) return b === DOT
    if (k > 7 || b < 0x30 || b > 0x39) return false
    if (k === 5) this.major = b - 0x30
    return true
  }

  private refuse(at: number, v: FramingViolation): number {
    this.s = S.Refused
    this.violation = v
    return at
  }

  private startHead(): S {
    this.contentLength = 0
    this.sawLength = false
    this.sawCoding = false
    this.chunked = false
    return S.FieldStart
  }

  /** One byte of a header name (or its colon). */
  private nameByte(b: number): S {
    if (b === COLON) {
      const m = this.nameMatch
      const len = this.nameLen
      if (m & M_CL && len === CONTENT_LENGTH.length) {
        // A second Content-Length, or one with Transfer-Encoding: llhttp refuses the message.
        if (this.sawLength || this.sawCoding) return S.Off
        this.sawLength = true
        return S.ValueLength
      }
      if (m & M_TE && len === TRANSFER_ENCODING.length) {
        if (this.sawLength || this.sawCoding) return S.Off
        this.sawCoding = true
        this.codingLen = 0
        this.codingBad = false
        this.codingEnded = false
        return S.ValueCoding
      }
      // What follows an upgrade is another protocol: not ours to frame.
      if (m & M_UP && len === UPGRADE.length) return S.Off
      return S.ValueOther
    }
    if (b === CR || b === LF) return S.Off // a header without a colon: llhttp refuses it
    const l = b | 0x20
    const k = this.nameLen++
    let m = this.nameMatch
    if (m & M_CL && CONTENT_LENGTH[k] !== l) m &= ~M_CL
    if (m & M_TE && TRANSFER_ENCODING[k] !== l) m &= ~M_TE
    if (m & M_UP && UPGRADE[k] !== l) m &= ~M_UP
    this.nameMatch = m
    // A name that can no longer be one of them: the rest of the line does not matter.
    return m === 0 ? S.ValueOther : S.Name
  }

  private endHead(): S {
    this.heads++
    if (this.chunked) return this.startChunkSize()
    if (this.contentLength > 0) {
      this.remaining = this.contentLength
      return S.Body
    }
    return S.MsgStart
  }

  private badLine(cause: string): S {
    this.badCause = cause
    return S.ChunkBad
  }

  private startChunkSize(): S {
    this.sizeTooBig = false
    this.digits = 0
    this.lineLen = 0
    this.remaining = 0
    return S.ChunkSize
  }

  private endChunkSize(): S {
    if (this.sizeTooBig) return S.Off // a size llhttp and Go both take, too big to skip by counting
    if (this.remaining === 0) return S.TrailerStart
    return S.ChunkData
  }
}
