// Preloaded (--import) into profiled raftkv members only: makes SIGTERM end the process through
// a normal exit, so `node --cpu-prof` writes its .cpuprofile. If the server has its own SIGTERM
// handler it runs too; this one only guarantees the exit after a grace period.
process.once('SIGTERM', () => {
  setTimeout(() => process.exit(0), 2000)
})
