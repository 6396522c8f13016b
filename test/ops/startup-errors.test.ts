// Start-up errors as a user meets them: one line on stderr naming the flag and its value, exit 1,
// no stack trace (unless --log-level debug), and the data dir left exactly as it was found.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lockDataDir } from '../../server/data-dir-lock.js'
import { reservePorts } from '../support/ports.js'
import { cleanup, memberFlags, raftkv, tempDir, treeDigest, within } from './proc.js'

const errors = suite('start-up errors')
errors.after(cleanup)

interface Failure {
  code: number | null
  err: string
  out: string
}

async function failStart(args: string[], opts: { uid?: number; gid?: number } = {}): Promise<Failure> {
  const p = raftkv(args, opts)
  const { code } = await within(p.exited, 30_000, 'failed start exits')
  return { code, err: p.err(), out: p.out() }
}

function assertOneLine(f: Failure, expected: string | RegExp): void {
  assert.is(f.code, 1, `exit code (stderr: ${f.err})`)
  if (typeof expected === 'string') assert.is(f.err, `raftkv: error: ${expected}\n`)
  else assert.match(f.err, expected)
  assert.is(f.err.split('\n').length, 2, 'exactly one line')
  assert.not.match(f.err + f.out, /\n\s+at /, 'no stack trace')
}

async function occupy(port: number): Promise<Server> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r))
  return s
}

errors('a file given as --data-dir: not a directory, the file untouched', async () => {
  const file = join(tempDir(), 'afile')
  writeFileSync(file, 'not a dir\n')
  const before = treeDigest(file)
  const [c, p] = await reservePorts(2)
  assertOneLine(await failStart(memberFlags(file, c!, p!)), `--data-dir '${file}': not a directory`)
  assert.is(treeDigest(file), before)
  // a path under a file
  assertOneLine(await failStart(memberFlags(join(file, 'sub'), c!, p!)), `--data-dir '${join(file, 'sub')}': a parent of it is not a directory`)
})

errors('a data dir that is not writable: named, nothing written', async () => {
  const base = tempDir()
  const dir = join(base, 'ro')
  mkdirSync(dir)
  const [c, p] = await reservePorts(2)
  // root writes anywhere: run the member as an unprivileged user then, in a dir it cannot write.
  const asRoot = process.getuid?.() === 0
  let opts = {}
  if (asRoot) {
    chmodSync(base, 0o755)
    chownSync(dir, 0, 0)
    chmodSync(dir, 0o755)
    opts = { uid: 65534, gid: 65534 }
  } else {
    chmodSync(dir, 0o555)
  }
  const before = treeDigest(dir)
  assertOneLine(await failStart(memberFlags(dir, c!, p!), opts), `--data-dir '${dir}': not writable: permission denied`)
  assert.is(treeDigest(dir), before)
  assert.equal(readdirSync(dir), [])
})

errors('a data dir held by another member: named with its pid, untouched', async () => {
  const dir = join(tempDir(), 'held')
  const held = await lockDataDir(dir)
  try {
    const before = treeDigest(dir)
    const [c, p] = await reservePorts(2)
    assertOneLine(await failStart(memberFlags(dir, c!, p!)), `--data-dir '${dir}': in use by another raftkv member (pid ${process.pid})`)
    assert.is(treeDigest(dir), before)
  } finally {
    await held.release()
  }
})

errors('a port in use (peer, then client): named with its URL; a missing data dir stays missing, an empty one empty', async () => {
  const base = tempDir()
  const [c, p] = await reservePorts(2)
  for (const [flag, port] of [['listen-peer-urls', p!], ['listen-client-urls', c!]] as const) {
    const blocker = await occupy(port)
    try {
      const missing = join(base, `missing-${flag}`)
      assertOneLine(await failStart(memberFlags(missing, c!, p!)), `--${flag} 'http://127.0.0.1:${port}': address already in use`)
      assert.not.ok(existsSync(missing), 'a data dir the failed start created is removed again')

      const empty = join(base, `empty-${flag}`)
      mkdirSync(empty)
      const before = treeDigest(empty)
      assertOneLine(await failStart(memberFlags(empty, c!, p!)), `--${flag} 'http://127.0.0.1:${port}': address already in use`)
      assert.is(treeDigest(empty), before)
      assert.equal(readdirSync(empty), [])
    } finally {
      await new Promise((r) => blocker.close(r))
    }
  }
})

errors('an existing member whose port is taken is not read or changed', async () => {
  const dir = join(tempDir(), 'existing')
  const [c, p] = await reservePorts(2)
  // bootstrap it once, stop it cleanly
  const first = raftkv(memberFlags(dir, c!, p!))
  const { waitServing } = await import('./proc.js')
  await waitServing(`http://127.0.0.1:${c}`)
  first.child.kill('SIGTERM')
  assert.is((await within(first.exited, 15_000, 'stop')).code, 0)
  const before = treeDigest(dir)
  const blocker = await occupy(c!)
  try {
    const f = await failStart(memberFlags(dir, c!, p!))
    assertOneLine(f, `--listen-client-urls 'http://127.0.0.1:${c}': address already in use`)
    assert.not.match(f.out, /restarting member from its data dir/, 'the WAL is not opened before the listeners are bound')
    assert.is(treeDigest(dir), before)
  } finally {
    await new Promise((r) => blocker.close(r))
  }
})

errors('certificates that cannot be read or parsed: named by flag, before the data dir is touched', async () => {
  const base = tempDir()
  const dir = join(base, 'data')
  const [c, p] = await reservePorts(2)
  const https = (extra: string[]): string[] => [
    ...memberFlags(dir, c!, p!).map((a) => a.replace(`http://127.0.0.1:${c}`, `https://127.0.0.1:${c}`)),
    ...extra,
  ]
  const missing = join(base, 'nope.pem')
  assertOneLine(await failStart(https(['--cert-file', missing, '--key-file', missing])), `--cert-file '${missing}': cannot read: no such file or directory`)
  const garbage = join(base, 'garbage.pem')
  writeFileSync(garbage, 'hello\n')
  assertOneLine(await failStart(https(['--cert-file', garbage, '--key-file', garbage])), new RegExp(`^raftkv: error: --cert-file '${garbage}': not a PEM certificate \\(.*\\)\\n$`))
  // a real certificate and a key file that is a certificate, not a key
  const cert = join(base, 'cert.pem')
  const key = join(base, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' })
  assertOneLine(await failStart(https(['--cert-file', cert, '--key-file', cert])), new RegExp(`^raftkv: error: --key-file '${cert}': not a PEM private key \\(.*\\)\\n$`))
  assertOneLine(await failStart(https(['--cert-file', cert, '--key-file', key, '--trusted-ca-file', missing])), `--trusted-ca-file '${missing}': cannot read: no such file or directory`)
  // peer variants
  const peerHttps = memberFlags(dir, c!, p!).map((a) => a.replace(`http://127.0.0.1:${p}`, `https://127.0.0.1:${p}`))
  assertOneLine(await failStart([...peerHttps, '--peer-cert-file', cert, '--peer-key-file', missing]), `--peer-key-file '${missing}': cannot read: no such file or directory`)
  assertOneLine(await failStart([...peerHttps, '--peer-cert-file', cert, '--peer-key-file', key, '--peer-ca-file', garbage]), new RegExp(`^raftkv: error: --peer-ca-file '${garbage}': not a PEM certificate`))
  assert.not.ok(existsSync(dir), 'nothing was created')
})

errors('--log-level debug adds the stack trace', async () => {
  const file = join(tempDir(), 'afile')
  writeFileSync(file, '')
  const [c, p] = await reservePorts(2)
  const f = await failStart([...memberFlags(file, c!, p!), '--log-level', 'debug'])
  assert.is(f.code, 1)
  assert.match(f.err, `raftkv: error: --data-dir '${file}': not a directory\n`)
  assert.match(f.out, /StartupError: --data-dir .*not a directory\\n\s+at /, 'the debug log carries the stack')
})

errors.run()
