// The server log: JSON lines with member fields at the configured level, a readable form for
// terminals, and run-time level changes.
import { Writable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createLogger, formatPretty, setLogLevel } from '../../server/log.js'

function sink(isTTY = false): { dest: Writable & { isTTY?: boolean }; text: () => string } {
  let s = ''
  const dest = new Writable({
    write(c, _e, cb) {
      s += String(c)
      cb()
    },
  }) as Writable & { isTTY?: boolean }
  dest.isTTY = isTTY
  return { dest, text: () => s }
}

const log = suite('log')

log('JSON lines carry level label, ISO time, member name and id, fields and msg', () => {
  const out = sink()
  const l = createLogger({ name: 'etcd1', memberId: 'bf9071f4639c75cc', logLevel: 'info' }, { destination: out.dest })
  l.info({ peer: 'e7b968b9fb1bc003' }, 'peer became active')
  l.debug('not shown at info')
  const lines = out.text().trim().split('\n')
  assert.is(lines.length, 1)
  const o = JSON.parse(lines[0]!) as Record<string, unknown>
  assert.is(o.level, 'info')
  assert.match(String(o.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.is(o.member, 'etcd1')
  assert.is(o.memberId, 'bf9071f4639c75cc')
  assert.is(o.peer, 'e7b968b9fb1bc003')
  assert.is(o.msg, 'peer became active')
})

log('--log-level debug shows debug; panic maps to fatal; setLogLevel changes it at run time', () => {
  const out = sink()
  const l = createLogger({ logLevel: 'debug' }, { destination: out.dest })
  l.debug('d1')
  setLogLevel(l, 'error')
  l.warn('hidden')
  l.error('e1')
  const p = createLogger({ logLevel: 'panic' }, { destination: out.dest })
  p.error('hidden too')
  p.fatal('f1')
  const msgs = out.text().trim().split('\n').map((x) => (JSON.parse(x) as { msg: string }).msg)
  assert.equal(msgs, ['d1', 'e1', 'f1'])
})

log('a TTY destination gets readable lines; children add fields', () => {
  const out = sink(true)
  const l = createLogger({ name: 'etcd1' }, { destination: out.dest }).child({ component: 'transport' })
  l.warn({ url: 'http://127.0.0.1:2380', reason: 'connect ECONNREFUSED' }, 'peer unreachable')
  const line = out.text()
  assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} .*WARN.* etcd1 peer unreachable component=transport url=http:\/\/127.0.0.1:2380 reason="connect ECONNREFUSED"\n$/)
})

log('formatPretty without colour; non-JSON passes through', () => {
  const s = formatPretty('{"level":"info","time":"2026-01-02T03:04:05.678Z","member":"m","msg":"hi","n":1}', false)
  assert.is(s, '03:04:05.678 INFO  m hi n=1\n')
  assert.is(formatPretty('plain\n'), 'plain\n')
})

log.run()
