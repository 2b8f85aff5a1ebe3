/**
 * The load generator in a process of its own (`runLoadApart` in load.ts forks it): it receives one
 * job over IPC, runs it, answers with the result and exits. Run inside `pnpm bench`'s own process,
 * the load shared a heap with the seeding and the fleet: that heap's collections paused the load
 * (nearly every young collection took over 2 ms, against about a third of them here) and every
 * request in flight waited, which showed in the baseline's p99 and the gateway's alike.
 */
import { type LoadJob, runLoad } from './load';
import { requestsOf } from './workloads';

process.once('message', (job: LoadJob) => {
  const cpu0 = process.cpuUsage();
  runLoad(job.origins, requestsOf(job.workload), job.opts)
    .then((result) => {
      const cpu = process.cpuUsage(cpu0);
      // Over every request sent, the warm-up's too: what the load generator takes from the cores.
      const sent = result.requests + result.warmupRequests;
      process.send?.({ ok: true, result: { ...result, loaderCpuUs: sent > 0 ? (cpu.user + cpu.system) / sent : 0 } }, () =>
        process.exit(0),
      );
    })
    .catch((error: unknown) => {
      process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1));
    });
});
