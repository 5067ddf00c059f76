/**
 * Long operations the server runs in the background (deploy, join, leave,
 * collapse, destroy): each gets an id to follow, keeps its events and its
 * result, and tells the event bus as it goes. Only the latest ones are kept.
 */
import { randomBytes } from 'node:crypto';
import type { OperationEvent } from '../../app/operations.js';
import type { ApiErrorKind } from './errors.js';

export type JobStatus = 'running' | 'success' | 'failure';

export interface Job {
  readonly id: string;
  readonly op: string;
  readonly vpc: string | null;
  status: JobStatus;
  readonly started: string;
  finished: string | null;
  readonly events: OperationEvent[];
  result: unknown;
  error: { kind: ApiErrorKind; message: string } | null;
}

export type BusEvent =
  | { readonly event: 'operation'; readonly data: { readonly id: string; readonly op: string; readonly vpc: string | null; readonly event: OperationEvent } }
  | { readonly event: 'operation_done'; readonly data: { readonly id: string; readonly op: string; readonly vpc: string | null; readonly status: JobStatus } }
  | { readonly event: 'tunnel'; readonly data: Readonly<Record<string, unknown>> };

/** Fan-out of server events to every open event stream. */
export class Bus {
  private readonly subscribers = new Set<(e: BusEvent) => void>();
  publish(e: BusEvent): void {
    for (const s of this.subscribers) s(e);
  }
  subscribe(fn: (e: BusEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
  get size(): number {
    return this.subscribers.size;
  }
}

const KEEP = 200;

export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly announcers = new Map<string, () => void>();
  constructor(private readonly bus: Bus) {}

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /**
   * Start `run` in the background. Its promise never rejects to the caller:
   * a failure is the job's status and error.
   */
  start(
    op: string,
    vpc: string | null,
    run: (events: (e: OperationEvent) => void) => Promise<{ ok: boolean; result: unknown }>,
    failure: (e: unknown) => { kind: ApiErrorKind; message: string },
  ): { job: Job; done: Promise<void> } {
    const job: Job = { id: randomBytes(8).toString('hex'), op, vpc, status: 'running', started: new Date().toISOString(), finished: null, events: [], result: null, error: null };
    this.jobs.set(job.id, job);
    // Nothing is published until the job is announced: a job refused before it started is dropped unseen.
    let announced = false;
    const held: BusEvent[] = [];
    const publish = (e: BusEvent): void => {
      if (announced) this.bus.publish(e);
      else held.push(e);
    };
    this.announcers.set(job.id, () => {
      announced = true;
      for (const e of held.splice(0)) this.bus.publish(e);
    });
    for (const old of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - KEEP))) this.jobs.delete(old);
    const events = (event: OperationEvent): void => {
      job.events.push(event);
      publish({ event: 'operation', data: { id: job.id, op, vpc, event } });
    };
    const finish = (status: JobStatus): void => {
      job.status = status;
      job.finished = new Date().toISOString();
      publish({ event: 'operation_done', data: { id: job.id, op, vpc, status } });
    };
    const done = run(events).then(
      (r) => {
        job.result = r.result;
        finish(r.ok ? 'success' : 'failure');
      },
      (e: unknown) => {
        job.error = failure(e);
        finish('failure');
      },
    );
    return { job, done };
  }

  /** The job's id was given out: its events (those so far, and the rest) go to the event stream. */
  announce(id: string): void {
    this.announcers.get(id)?.();
    this.announcers.delete(id);
  }

  /** Forget a job nobody was told about (it was refused before it started): none of its events is published. */
  drop(id: string): void {
    this.jobs.delete(id);
    this.announcers.delete(id);
  }
}
