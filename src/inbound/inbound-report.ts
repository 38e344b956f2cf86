import { diagnose } from '../diagnosis/diagnose.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { InboundFailure } from './inbound-failure.js';

export interface InboundFailureReport {
  protocol: string;
  phase: string;
  error: string;
  serverSaid: string | null;
  detailCode: string | null;
  status: number | null;
  diagnosis: Diagnosis;
}

/** A failed inbound step as people and --json see it. */
export function reportInboundFailure(failure: InboundFailure, where: { host: string; port: number; authMethod?: 'password' | 'oauth2' }): InboundFailureReport {
  return {
    protocol: failure.protocol,
    phase: failure.phase,
    error: failure.message,
    serverSaid: failure.serverSaid ?? null,
    detailCode: failure.detailCode ?? null,
    status: failure.status ?? null,
    diagnosis: diagnose({
      area: failure.protocol,
      phase: failure.phase,
      text: [failure.message, failure.serverSaid, failure.detailCode].filter(Boolean).join(' | '),
      ...(failure.detailCode ? { detailCode: failure.detailCode, kind: failure.detailCode } : {}),
      ...(failure.status ? { responseCode: failure.status } : {}),
      host: where.host,
      port: where.port,
      ...(where.authMethod ? { authMethod: where.authMethod } : {}),
    }),
  };
}
