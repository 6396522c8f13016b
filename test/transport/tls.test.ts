// Peer TLS (CLI-7, --peer-* flags): members talk over https peer URLs with certificates from a
// test CA; with --peer-client-cert-auth a member without a client certificate cannot deliver.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { TlsConfig } from '../../server/config.js'
import { MessageType, type Message, type NodeId } from '../../server/raft/types.js'
import { HttpTransport } from '../../server/transport/http-transport.js'
import { PeerServer } from '../../server/transport/peer-server.js'
import { until } from '../support/wait.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'
const C = '000000000000000c'
const HTTPS = { url: 'https://127.0.0.1:0', host: '127.0.0.1', port: 0, tls: true }

const dir = mkdtempSync(join(tmpdir(), 'raftkv-tls-'))
const ossl = (...args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}
ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=raftkv-test-ca')
ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'peer.key', '-out', 'peer.csr', '-subj', '/CN=peer')
writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n')
ossl('x509', '-req', '-in', 'peer.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'peer.pem', '-days', '2', '-extfile', 'ext')

const tls: TlsConfig = { certFile: join(dir, 'peer.pem'), keyFile: join(dir, 'peer.key'), trustedCaFile: join(dir, 'ca.pem'), clientCertAuth: true }
const open: HttpTransport[] = []

async function transport(id: NodeId, t: TlsConfig): Promise<HttpTransport> {
  const x = new HttpTransport({ id, clusterId: CLUSTER, listen: [HTTPS], tls: t, backoffMinMs: 20, backoffMaxMs: 100 })
  await x.start()
  open.push(x)
  return x
}

const msg = (from: NodeId, to: NodeId): Message => ({ type: MessageType.Heartbeat, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })

const t = suite('transport tls')

t.after.each(async () => {
  await Promise.all(open.splice(0).map((x) => x.stop()))
})
t.after(() => rmSync(dir, { recursive: true, force: true }))

t('https peer URLs with mutual TLS deliver both ways', async () => {
  const [a, b] = [await transport(A, tls), await transport(B, tls)]
  assert.match(a.urls[0]!, /^https:\/\/127\.0\.0\.1:\d+$/)
  a.addPeer(B, b.urls)
  b.addPeer(A, a.urls)
  let atB = 0
  let atA = 0
  b.onMessage(() => atB++)
  a.onMessage(() => atA++)
  a.send([msg(A, B)])
  b.send([msg(B, A)])
  await until(() => atB === 1 && atA === 1)
})

t('a peer moving from an http to an https URL (updatePeer) is reached with the right protocol', async () => {
  const [a, b] = [await transport(A, tls), await transport(B, tls)]
  a.addPeer(B, [b.urls[0]!.replace('https:', 'http:')])
  let atB = 0
  b.onMessage(() => atB++)
  a.updatePeer(B, b.urls)
  a.send([msg(A, B)])
  await until(() => atB === 1)
})

t('with --peer-client-cert-auth, a member without a client certificate is refused', async () => {
  const b = await transport(B, tls)
  // A trusts the CA (so it can verify B) but has no certificate of its own to present.
  const a = new HttpTransport({ id: A, clusterId: CLUSTER, tls: { certFile: '', keyFile: '', trustedCaFile: tls.trustedCaFile, clientCertAuth: false }, backoffMinMs: 20, backoffMaxMs: 100 })
  await a.start()
  open.push(a)
  a.addPeer(B, b.urls)
  let atB = 0
  b.onMessage(() => atB++)
  const unreachable: NodeId[] = []
  a.onUnreachable((id) => unreachable.push(id))
  a.send([msg(A, B)])
  await until(() => unreachable.length > 0)
  assert.is(atB, 0)
})

t('streams switch to the bare TLS socket (101) and still carry every message in order; a peer refusing the switch keeps chunked TLS streams', async () => {
  const switched: number[] = [0, 0]
  const servers: PeerServer[] = []
  const member = async (id: NodeId, i: number, streamUpgrade: boolean): Promise<HttpTransport> => {
    const ps = new PeerServer({ listen: [HTTPS], tls })
    const upgradeRoute = ps.upgradeRoute.bind(ps)
    ps.upgradeRoute = (path, protocol, handler) => upgradeRoute(path, protocol, (req, socket, head) => (switched[i]!++, handler(req, socket, head)))
    await ps.start()
    servers.push(ps)
    const x = new HttpTransport({ id, clusterId: CLUSTER, peerServer: ps, tls, backoffMinMs: 20, backoffMaxMs: 100, streamUpgrade })
    await x.start()
    open.push(x)
    return x
  }
  try {
    const [a, b, oldC] = [await member(A, 0, true), await member(B, 1, true), await member(C, 2, false)]
    a.addPeer(B, b.urls)
    a.addPeer(C, oldC.urls)
    const atB: number[] = []
    const atC: number[] = []
    b.onMessage((m) => atB.push(m.index))
    oldC.onMessage((m) => atC.push(m.index))
    for (let i = 1; i <= 20; i++) {
      a.send([{ ...msg(A, B), index: i }, { ...msg(A, C), index: i }])
      await new Promise((r) => setTimeout(r, 1))
    }
    const want = Array.from({ length: 20 }, (_, i) => i + 1)
    await until(() => atB.length === 20 && atC.length === 20)
    assert.equal(atB, want)
    assert.equal(atC, want)
    assert.is(switched[1], 1, 'the stream to B runs on the switched TLS socket')
    assert.is(a.stats(B)!.fail + a.stats(C)!.fail, 0)
  } finally {
    await Promise.all(open.splice(0).map((x) => x.stop()))
    await Promise.all(servers.map((s) => s.stop()))
  }
})

t.run()
