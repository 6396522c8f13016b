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
import { until } from '../support/wait.js'

const CLUSTER = 'c76dfb96de16906b'
const A = '000000000000000a'
const B = '000000000000000b'
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

t.run()
