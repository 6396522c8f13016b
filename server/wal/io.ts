// The few file operations the WAL's write path uses, behind an interface so tests can inject
// ENOSPC / EIO at the exact call (disk-full and failing-disk tests). Production uses realIo.
// Must not: buffer, retry or swallow errors (the WAL decides what a failure means).

import fs from 'node:fs'

export interface WalIo {
  /** Writes all of buf at pos (looping over short writes). */
  write(fd: number, buf: Buffer, pos: number): Promise<void>
  writeSync(fd: number, buf: Buffer, pos: number): void
  fdatasync(fd: number): Promise<void>
  fdatasyncSync(fd: number): void
}

function writeOnce(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n)))
  })
}

export const realIo: WalIo = {
  async write(fd, buf, pos) {
    let done = 0
    while (done < buf.length) done += await writeOnce(fd, buf, done, buf.length - done, pos + done)
  },
  writeSync(fd, buf, pos) {
    let done = 0
    while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done)
  },
  fdatasync(fd) {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())))
  },
  fdatasyncSync(fd) {
    fs.fdatasyncSync(fd)
  },
}
