/**
 * VPC status for the API: cached for a moment and computed once for all who
 * ask at the same time (a status asks every member over SSH), and watched
 * while someone listens to the event stream, so a tunnel going down or up
 * becomes an event within seconds.
 */
import type { StatusResult } from '../../app/vpc.js';
import type { TunnelStatus } from '../../core/types.js';
import type { Bus } from './jobs.js';

/** A status this old is served as it is; an older one is served while a fresh one is computed. */
export const STATUS_TTL_MS = 5000;
/** A status older than this is not served at all: callers wait for a fresh one. */
export const STATUS_MAX_AGE_MS = 15_000;
/** How often a watched VPC's tunnels are looked at. */
export const WATCH_MS = 2000;

interface Entry {
  /** When the computation that gave `value` started. */
  at: number;
  value: StatusResult;
}

/**
 * Status per VPC, computed at most once at a time. A caller gets the last
 * result at once while it is fresh enough, and a refresh starts in the
 * background once it is older than the TTL, so fifty clients never all wait
 * for the peers (stale-while-revalidate); only a first or a very old status
 * is waited for.
 */
export class StatusCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<StatusResult>>();
  /** Bumped by forget(): a computation started before a change is never cached after it. */
  private readonly generation = new Map<string, number>();
  constructor(private readonly compute: (vpc: string) => Promise<StatusResult>) {}

  /** The VPC just changed (a deploy, join, leave ... ended): what was cached, or is being computed, describes the past. */
  forget(vpc: string): void {
    this.entries.delete(vpc);
    this.inflight.delete(vpc);
    this.generation.set(vpc, (this.generation.get(vpc) ?? 0) + 1);
  }

  private refresh(vpc: string): Promise<StatusResult> {
    const running = this.inflight.get(vpc);
    if (running) return running;
    const at = Date.now();
    const gen = this.generation.get(vpc) ?? 0;
    const p = this.compute(vpc).then(
      (value) => {
        if ((this.generation.get(vpc) ?? 0) === gen) this.entries.set(vpc, { at, value });
        return value;
      },
      (e: unknown) => {
        // A refusal (the VPC is gone) also ends what was cached for it.
        this.entries.delete(vpc);
        throw e;
      },
    );
    const cleared = p.finally(() => {
      if (this.inflight.get(vpc) === p) this.inflight.delete(vpc);
    });
    cleared.catch(() => undefined);
    this.inflight.set(vpc, p);
    return p;
  }

  get(vpc: string, ttlMs = STATUS_TTL_MS): Promise<StatusResult> {
    const e = this.entries.get(vpc);
    const age = e ? Date.now() - e.at : Number.POSITIVE_INFINITY;
    if (e && age < ttlMs) return Promise.resolve(e.value);
    if (e && age < STATUS_MAX_AGE_MS) {
      this.refresh(vpc).catch(() => undefined);
      return Promise.resolve(e.value);
    }
    return this.refresh(vpc);
  }

  /** A result no older than `ms`, waiting for a fresh one if need be (the watcher). */
  fresh(vpc: string, ms: number): Promise<StatusResult> {
    const e = this.entries.get(vpc);
    return e && Date.now() - e.at < ms ? Promise.resolve(e.value) : this.refresh(vpc);
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
      const watched = this.vpcs();
      for (const vpc of watched) {
        let now: StatusResult;
        try {
          now = await this.status.fresh(vpc, WATCH_MS / 2);
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
      for (const vpc of [...this.last.keys()]) if (!watched.includes(vpc)) this.last.delete(vpc);
    } finally {
      this.busy = false;
    }
  }
}
