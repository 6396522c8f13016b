// CPU and round trip of the peer message stream alone, switched (101, bare frames) against chunked
// HTTP, in one process so both ends are measured: `npm run bench:peer-stream [-- --seconds S
// --rounds R]`. Two HttpTransports on loopback; A sends an App with one 256-byte entry (as a PUT
// makes), B answers each with an AppResp, A sends the next. Window 1 measures the round trip,
// window 32 the CPU per message under load. The modes alternate so machine drift cancels.
import { loadavg } from 'node:os'
import { MessageType, type Message, type NodeId } from '../server/raft/types.js'
import { HttpTransport } from '../server/transport/http-transport.js'

const A: NodeId = '000000000000000a'
const B: NodeId = '000000000000000b'
const LOOPBACK = { url: 'http://127.0.0.1:0', host: '127.0.0.1', port: 0, tls: false }

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const seconds = arg('--seconds', 2)
const rounds = arg('--rounds', 3)

const app = (i: number): Message => ({
  type: MessageType.App, from: A, to: B, term: 2, logTerm: 2, index: i, commit: i, reject: false, rejectHint: 0,
  entries: [{ term: 2, index: i + 1, type: 0, data: JSON.stringify({ op: 'put', key: `/k/${i}`, value: 'v'.repeat(256) }) }],
})

interface Result { pairs: number; cpuUsPerPair: number; rttUs: number }

async function run(streamUpgrade: boolean, window: number): Promise<Result> {
  const mk = async (id: NodeId): Promise<HttpTransport> => {
    const t = new HttpTransport({ id, clusterId: 'c76dfb96de16906b', listen: [LOOPBACK], streamUpgrade })
    await t.start()
    return t
  }
  const [a, b] = [await mk(A), await mk(B)]
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  b.onMessage((m) => b.send([{ type: MessageType.AppResp, from: B, to: A, term: 2, logTerm: 0, index: m.index + 1, commit: 0, reject: false, rejectHint: 0, entries: [] }]))
  let pairs = 0
  let next = 0
  let measuring = false
  let done: () => void = () => {}
  a.onMessage(() => {
    if (measuring) pairs++
    a.send([app(next++)])
  })
  // Warm up (streams open, JIT), then measure.
  for (let i = 0; i < window; i++) a.send([app(next++)])
  await new Promise((r) => setTimeout(r, 500))
  measuring = true
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise<void>((r) => {
    done = r
    setTimeout(() => done(), seconds * 1000)
  })
  measuring = false
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await a.stop()
  await b.stop()
  return { pairs, cpuUsPerPair: (cpu.user + cpu.system) / pairs, rttUs: ((wallMs * 1000) / pairs) * window }
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!
  console.log(`peer stream: ${rounds} round(s) x ${seconds} s per mode and window; App with a 256-byte entry, AppResp back`)
  const rows: Record<string, Result[]> = {}
  for (let r = 1; r <= rounds; r++) {
    for (const window of [1, 32]) {
      // ABBA: each mode goes first every other round.
      for (const mode of r % 2 === 1 ? [true, false] : [false, true]) {
        const key = `${mode ? 'switched' : 'chunked '} window ${String(window).padStart(2)}`
        const res = await run(mode, window)
        ;(rows[key] ??= []).push(res)
        console.log(`[round ${r}] ${key}: ${res.pairs} App/AppResp pairs, ${res.cpuUsPerPair.toFixed(1)} us CPU per pair, ${res.rttUs.toFixed(0)} us per round trip`)
      }
    }
  }
  console.log('\nmode                  pairs/s   cpu us/pair   us/round trip   (means over rounds)')
  for (const [key, rs] of Object.entries(rows)) {
    const mean = (f: (x: Result) => number): number => rs.reduce((s, x) => s + f(x), 0) / rs.length
    console.log(`${key.padEnd(20)}  ${(mean((x) => x.pairs) / seconds).toFixed(0).padStart(7)}   ${mean((x) => x.cpuUsPerPair).toFixed(1).padStart(11)}   ${mean((x) => x.rttUs).toFixed(0).padStart(13)}`)
  }
  console.log(`load average (1 min): ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end on the shared box`)
}

await main()
