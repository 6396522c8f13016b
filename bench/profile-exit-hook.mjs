// Preloaded (--import) into profiled raftkv members only: makes SIGTERM/SIGINT end the process
// through a normal exit, so `node --cpu-prof` writes its .cpuprofile. If the server has its own
// handler it runs too; this one only guarantees the exit after a grace period.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    setTimeout(() => process.exit(0), 2000)
  })
}
