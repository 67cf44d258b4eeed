// "Run with parameters": the form's values, the RunParams they send, where the server's
// refusal lands, and whether a run carries any.

import type { Action, ActionKind, RunParams } from '../api/types';
import { record, type KeyValue } from './keyValue';

/** The parameters form: a shell job's variables and arguments, an HTTP job's body. */
export interface ParamsForm {
  env: KeyValue[];
  args: string[];
  body: string;
}

/** Whether a job of `kind` takes parameters (shell and HTTP jobs do). */
export function takesParams(kind: ActionKind): boolean {
  return kind === 'shell' || kind === 'http';
}

/** The form a run of `action` starts from: nothing set, an HTTP job's own body. */
export function paramsForm(action: Action): ParamsForm {
  return { env: [], args: [], body: action.kind === 'http' ? (action.body ?? '') : '' };
}

/** The parameters `values` give a run of `action` (only the parts its kind takes). */
export function formToParams(values: ParamsForm, action: Action): RunParams {
  if (action.kind === 'http') {
    // Left as the job has it: no override, so the run is the job's own.
    const body = values.body === (action.body ?? '') ? null : values.body;
    return { env: {}, args: [], body };
  }
  return { env: record(values.env) ?? {}, args: values.args ?? [], body: null };
}

/** The form items a job of `kind` shows. */
function paramsFields(kind: ActionKind): (keyof ParamsForm)[] {
  if (kind === 'shell') return ['env', 'args'];
  return kind === 'http' ? ['body'] : [];
}

/** Where the server's refusal of `field` shows in the form of a job of `kind`, and what it
 * says there (the variable or `$n` it names first); null when no shown item is at fault. */
export function paramsErrorAt(field: string | null, message: string, kind: ActionKind): { name: keyof ParamsForm; message: string } | null {
  const at = refusalAt(field ?? '', message);
  return at && paramsFields(kind).includes(at.name) ? at : null;
}

function refusalAt(field: string, message: string): { name: keyof ParamsForm; message: string } | null {
  const env = /^params\.env(?:\.(.+))?$/.exec(field);
  if (env) return { name: 'env', message: env[1] ? `${env[1]}: ${message}` : message };
  const arg = /^params\.args(?:\[(\d+)\])?$/.exec(field);
  if (arg) return { name: 'args', message: arg[1] ? `$${Number(arg[1]) + 1}: ${message}` : message };
  if (field === 'params.body') return { name: 'body', message };
  return null;
}

/** Whether a run's `params` give anything (the server leaves out the empty parts). */
export function hasParams(params: RunParams | null | undefined): params is RunParams {
  return !!params && (Object.keys(params.env ?? {}).length > 0 || (params.args ?? []).length > 0 || params.body != null);
}
