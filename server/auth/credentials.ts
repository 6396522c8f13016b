// Who a request claims to be (AUTH-13): HTTP Basic credentials parsed exactly as Go's
// Request.BasicAuth (case-insensitive `Basic ` prefix, strict standard base64, split at the first
// colon), or the Common Names of a verified client certificate chain (--client-cert-auth). Parsing
// only: deciding what the identity may do is server/auth/auth-service.ts's job.
import type { IncomingMessage } from 'node:http'
import type { PeerCertificate, TLSSocket } from 'node:tls'

/** Decoded Basic credentials, or undefined when the header is not valid Basic auth. */
export function parseBasicAuth(header: string): { username: string; password: string } | undefined {
  const prefix = 'basic '
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return undefined
  // Go's StdEncoding skips CR and LF; everything else must be the alphabet with correct padding.
  const b64 = header.slice(prefix.length).replace(/[\r\n]/g, '')
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(={0,2})$/.test(b64)) return undefined
  if (/=[^=]/.test(b64)) return undefined
  const decoded = Buffer.from(b64, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** The Authorization header, '' when absent (Go's Header.Get). */
export function authorizationHeader(req: IncomingMessage): string {
  const h = req.headers.authorization
  return typeof h === 'string' ? h : ''
}

/**
 * Common Names of the verified client certificate chain (leaf first), empty without a verified
 * certificate. etcd tries every certificate of the verified chains.
 */
export function certificateNames(req: IncomingMessage): string[] {
  const sock = req.socket as TLSSocket
  if (!sock || typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return []
  const names: string[] = []
  let cert: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = sock.getPeerCertificate(true)
  const seen = new Set<unknown>()
  while (cert && Object.keys(cert).length > 0 && !seen.has(cert)) {
    seen.add(cert)
    const cn = cert.subject?.CN
    if (typeof cn === 'string') names.push(cn)
    else if (Array.isArray(cn)) names.push(...(cn as string[]))
    cert = cert.issuerCertificate as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined
  }
  return names
}
