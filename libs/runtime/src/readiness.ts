import { Injectable, type OnModuleDestroy } from '@nestjs/common';

/** Whether this process should receive work: false from the moment shutdown begins. */
@Injectable()
export class Readiness implements OnModuleDestroy {
  private stopping = false;

  get isStopping(): boolean {
    return this.stopping;
  }

  /** First shutdown hook Nest runs: /readyz turns false before anything closes. */
  onModuleDestroy(): void {
    this.stopping = true;
  }
}
