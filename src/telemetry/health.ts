/** Device health for the stats topic: CPU load and temperature, memory, uptime (systeminformation). */
import si from 'systeminformation';

export interface HealthSample {
  cpuLoadPct: number | null;
  temperatureC: number | null;
  memUsedPct: number | null;
  processRssMb: number;
  systemUptimeS: number;
}

/** One sample. Values a device does not report (no thermal sensor in a VM) are null, never invented. */
export async function sampleHealth(): Promise<HealthSample> {
  const [load, temp, mem] = await Promise.all([
    si.currentLoad().catch(() => null),
    si.cpuTemperature().catch(() => null),
    si.mem().catch(() => null),
  ]);
  const t = temp?.main;
  return {
    cpuLoadPct: load && Number.isFinite(load.currentLoad) ? Math.round(load.currentLoad * 10) / 10 : null,
    temperatureC: typeof t === 'number' && Number.isFinite(t) && t > -50 ? Math.round(t * 10) / 10 : null,
    // `active` is what the OS cannot reclaim; `used` counts caches on Linux.
    memUsedPct: mem && mem.total > 0 ? Math.round((mem.active / mem.total) * 1000) / 10 : null,
    processRssMb: Math.round((process.memoryUsage.rss() / 1_048_576) * 10) / 10,
    systemUptimeS: Math.round(si.time().uptime),
  };
}
