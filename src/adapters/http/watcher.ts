/**
 * VPC status for the API: cached for a moment and computed once for all who
 * ask at the same time (a status asks every member over SSH), and watched
 * while someone listens to the event stream, so a tunnel going down or up
 * becomes an event within seconds.
 */
import type { StatusResult } from '../../app/vpc.js';
import type { TunnelStatus } from '../../core/types.js';
import type { Bus } from './jobs.js';

/** A status this old is served from the cache. */
export const STATUS_TTL_MS = 2000;
/** How often a watched VPC's tunnels are looked at. */
export const WATCH_MS = 2000;

interface Entry {
  at: number;
  value: Promise<StatusResult>;
}

export class StatusCache {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly compute: (vpc: string) => Promise<StatusResult>) {}

  get(vpc: string, maxAgeMs = STATUS_TTL_MS): Promise<StatusResult> {
    const e = this.entries.get(vpc);
    if (e && Date.now() - e.at < maxAgeMs) return e.value;
    const value = this.compute(vpc);
    const entry = { at: Date.now(), value };
    this.entries.set(vpc, entry);
    // A failure is not cached: the next caller tries again.
    value.catch(() => {
      if (this.entries.get(vpc) === entry) this.entries.delete(vpc);
    });
    return value;
  }
}

const key = (t: TunnelStatus): string => `${t.node}/${t.tunnel}`;
const state = (t: TunnelStatus | undefined): string => (t ? `${t.present}/${t.up}` : 'gone');

/**
 * Look at every VPC this host is a member of while the bus has listeners;
 * publish a `tunnel` event for each tunnel whose presence or state changed.
 */
export class TunnelWatcher {
  private readonly last = new Map<string, Map<string, TunnelStatus>>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly bus: Bus,
    private readonly vpcs: () => string[],
    private readonly status: StatusCache,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), WATCH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy || this.bus.size === 0) return;
    this.busy = true;
    try {
      for (const vpc of this.vpcs()) {
        let now: StatusResult;
        try {
          now = await this.status.get(vpc, WATCH_MS / 2);
        } catch {
          continue;
        }
        const seen = new Map(now.hosts.flatMap((h) => h.tunnels).map((t) => [key(t), t]));
        const before = this.last.get(vpc);
        if (before) {
          for (const [k, t] of seen) if (state(before.get(k)) !== state(t)) this.bus.publish({ event: 'tunnel', data: { vpc, ...t } });
          for (const [k, t] of before) if (!seen.has(k) && now.hosts.some((h) => h.node === t.node && h.ok)) this.bus.publish({ event: 'tunnel', data: { vpc, ...t, present: false, up: false, rtt_ms: null } });
        }
        this.last.set(vpc, seen);
      }
      for (const vpc of [...this.last.keys()]) if (!this.vpcs().includes(vpc)) this.last.delete(vpc);
    } finally {
      this.busy = false;
    }
  }
}
