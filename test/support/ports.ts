// Ports for test servers, with no race between picking a port and binding it.
//
// A server that can bind port 0 and say which port it got should do that (startServer reports
// `clientUrls`; the CLI logs them in its "ready to serve client requests" line). A port that must
// be known before its server starts (peer URLs in --initial-cluster, etcd, a member restarted on
// the same URLs, a URL nothing listens on) comes from reservePort(), which no other test and no
// port-0 bind can take:
//  - it lies below the kernel's ephemeral range, so the kernel never hands it to a port-0
//    listener or to an outgoing connection;
//  - it is claimed by creating a file exclusively (O_EXCL) in a directory that every test process
//    on the machine shares; the file holds the owner's pid and is removed when that process exits.
//    A claim whose owner died without removing it (kill -9) is swept once it is old enough;
//  - it is bound once before it is handed out, so a port some other program listens on is skipped.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** Shared by every test process of this user on the machine. */
const claimDir = path.join(os.tmpdir(), `raftkv-test-ports-${os.userInfo().uid}`)
/** Reserved ports come from [LOW, first ephemeral port). */
const LOW = 20000
/** A dead owner's claim older than this is swept (a live owner's claim is never removed). */
const STALE_MS = 60_000

const mine = new Set<number>()
process.on('exit', () => {
  for (const port of mine) release(port)
})

/** The kernel's ephemeral range start (Linux); 32768 where it cannot be read. */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && Number.isInteger(low) && low > LOW + 1000) return low
  } catch {
    // not Linux
  }
  return 32768
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes claims left by processes that died (only once old enough, so a fresh claim is never swept). */
function sweep(): void {
  for (const name of readdirSync(claimDir)) {
    const file = path.join(claimDir, name)
    try {
      const pid = Number(readFileSync(file, 'utf8'))
      if (pid > 0 && !pidAlive(pid) && Date.now() - statSync(file).mtimeMs > STALE_MS) unlinkSync(file)
    } catch {
      // gone meanwhile, or half-written by its owner right now
    }
  }
}

function claim(port: number): boolean {
  try {
    const fd = openSync(path.join(claimDir, String(port)), 'wx')
    writeSync(fd, String(process.pid))
    closeSync(fd)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

function release(port: number): void {
  mine.delete(port)
  const file = path.join(claimDir, String(port))
  try {
    // Only our own claim (never one another process made after ours was swept or taken over).
    if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file)
  } catch {
    // already gone
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.unref()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

let swept = false

/** [low, high) to reserve from: RAFTKV_TEST_PORTS=low-high (inclusive) narrows it, for the self-test. */
function range(): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(process.env.RAFTKV_TEST_PORTS ?? '')
  return m ? [Number(m[1]), Number(m[2]) + 1] : [LOW, ephemeralLow()]
}

/** Makes the claim directory and, once per process, sweeps claims of dead processes. */
function prepareClaims(): void {
  mkdirSync(claimDir, { recursive: true })
  if (!swept) {
    swept = true
    sweep()
  }
}

/** Claims a loopback port for this process until it exits (or releasePort). */
export async function reservePort(): Promise<number> {
  prepareClaims()
  const [low, high] = range()
  const size = high - low
  const start = Math.floor(Math.random() * size)
  for (let i = 0; i < size; i++) {
    const port = low + ((start + i) % size)
    if (!claim(port)) continue
    mine.add(port)
    if (await bindable(port)) return port
    // Some program outside the tests listens there: keep the claim (so no test tries it again
    // while we live) and go on.
  }
  throw new Error(`no free port in ${low}-${high - 1} (claims in ${claimDir})`)
}

/** n consecutive reserved ports, the first returned (for tools that derive ports from a base). */
export async function reservePortRange(n: number): Promise<number> {
  prepareClaims()
  const [low, high] = range()
  const starts = high - low - n + 1
  const first = Math.floor(Math.random() * starts)
  for (let i = 0; i < starts; i++) {
    const base = low + ((first + i) % starts)
    const got: number[] = []
    for (let k = 0; k < n && claim(base + k); k++) {
      mine.add(base + k)
      got.push(base + k)
    }
    if (got.length === n && (await Promise.all(got.map(bindable))).every(Boolean)) return base
    for (const port of got) release(port)
  }
  throw new Error(`no ${n} consecutive free ports in ${low}-${high - 1} (claims in ${claimDir})`)
}

/** n distinct reserved ports. */
export async function reservePorts(n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await reservePort())
  return out
}

/** Gives a reserved port back (its server is gone for good); optional, exit releases them all. */
export function releasePort(port: number): void {
  if (mine.has(port)) release(port)
}

/** `http://127.0.0.1:<port>` (or https). */
export function loopbackUrl(port: number, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://127.0.0.1:${port}`
}

/** A loopback URL on a reserved port nothing listens on: connections to it are refused. */
export async function deadUrl(): Promise<string> {
  return loopbackUrl(await reservePort())
}

/** True when a TCP connection to `url`'s host and port is refused (nothing listens there). */
export function refuses(url: string): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname)
    s.once('connect', () => (s.destroy(), resolve(false)))
    s.once('error', () => resolve(true))
  })
}
