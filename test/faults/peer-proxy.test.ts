// Tests of the peer-link proxy: it identifies the dialing process through /proc, forwards bytes,
// black-holes cut links (and only those), and adds latency to slow links.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { PeerNetwork } from './peer-proxy.js'

const proxy = suite('peer proxy')

async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const socks = new Set<net.Socket>()
  const s = net.createServer((c) => {
    socks.add(c)
    c.on('error', () => {})
    c.pipe(c)
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  return {
    port: (s.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const c of socks) c.destroy()
      s.close(() => r())
    }),
  }
}

/** Sends `msg` through port and resolves with the echo, or 'timeout' after ms. */
function roundTrip(port: number, msg: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1')
    let got = ''
    const t = setTimeout(() => {
      c.destroy()
      resolve('timeout')
    }, ms)
    c.on('error', () => {})
    c.on('data', (d) => {
      got += d
      if (got.length >= msg.length) {
        clearTimeout(t)
        c.destroy()
        resolve(got)
      }
    })
    c.write(msg)
  })
}

proxy('identifies this process as the dialer and forwards', async () => {
  const echo = await echoServer()
  const net1 = new PeerNetwork(new Map([[process.pid, 0]]))
  const port = await net1.listen(1, echo.port)
  try {
    assert.is(await roundTrip(port, 'hello', 2000), 'hello')
    assert.is(net1.unidentified, 0)
    net1.block(0, 1)
    assert.is(await roundTrip(port, 'cut', 400), 'timeout', 'a cut link must black-hole')
    net1.block(0, 1)
    net1.heal()
    assert.is(await roundTrip(port, 'again', 2000), 'again')
    net1.slow(0, 1, 150)
    const t0 = Date.now()
    assert.is(await roundTrip(port, 'slow', 2000), 'slow')
    assert.ok(Date.now() - t0 >= 280, 'latency added in both directions')
  } finally {
    await net1.close()
    await echo.close()
  }
})

proxy('a cut between other members does not affect this one; a child process is told apart', async () => {
  const echo = await echoServer()
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  const net1 = new PeerNetwork(new Map([[process.pid, 0], [child.pid!, 2]]))
  const port = await net1.listen(1, echo.port)
  try {
    net1.block(2, 1)
    assert.is(await roundTrip(port, 'ok', 2000), 'ok')
    assert.is(net1.unidentified, 0)
  } finally {
    child.kill('SIGKILL')
    await net1.close()
    await echo.close()
  }
})

proxy.run()
