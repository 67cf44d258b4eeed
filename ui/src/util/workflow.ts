// Workflows without React: the editor's draft of a workflow and the edits on it, the checks
// made before saving, the left-to-right layout of the graph by layers, and which run of each
// step a workflow run's graph shows.

import type { Action, FollowOn, RunRecord, RunState, Step, Workflow } from '../api/types';
import type { Translate } from '../i18n';

/** Every edge condition, in the order the editor offers them. */
export const FOLLOW_ONS: FollowOn[] = ['succeeded', 'failed', 'completed'];

/** What the server accepts as a step id. */
export const STEP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The canvas distance between layers (x) and between the steps of one layer (y). */
export const LAYER_GAP = 290;
export const ROW_GAP = 110;

/**
 * A step on the editor's canvas. `key` names it to the canvas and to the edges, and never
 * changes: the step's id is typed by the user and may be empty or clash with another's
 * meanwhile. `step` is the API's step as it will be saved, so fields the editor does not show
 * (a command's env, retries.backoff_s, …) survive an edit.
 */
export interface DraftStep {
  key: string;
  step: Step;
}

/** An edge between two draft steps, by key. `on` absent means on success, as for the API. */
export interface DraftEdge {
  from: string;
  to: string;
  on?: FollowOn;
}

export interface WorkflowDraft {
  steps: DraftStep[];
  edges: DraftEdge[];
}

export function emptyDraft(): WorkflowDraft {
  return { steps: [], edges: [] };
}

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The draft of a saved workflow. Edges naming no step (the server refuses them) are dropped. */
export function toDraft(workflow: Workflow): WorkflowDraft {
  const steps = workflow.steps.map((step, i) => ({ key: `s${i + 1}`, step: copy(step) }));
  const keyOf = new Map<string, string>();
  for (const s of steps) if (!keyOf.has(s.step.id)) keyOf.set(s.step.id, s.key);
  const edges = (workflow.edges ?? []).flatMap((e): DraftEdge[] => {
    const from = keyOf.get(e.from);
    const to = keyOf.get(e.to);
    return from && to ? [{ from, to, ...(e.on ? { on: e.on } : {}) }] : [];
  });
  return { steps, edges };
}

/** The workflow a draft describes, steps and edges in the draft's order. */
export function fromDraft(draft: WorkflowDraft): Workflow {
  const idOf = new Map(draft.steps.map((s) => [s.key, s.step.id]));
  return {
    steps: draft.steps.map((s) => copy(s.step)),
    edges: draft.edges.map((e) => ({ from: idOf.get(e.from) ?? e.from, to: idOf.get(e.to) ?? e.to, ...(e.on ? { on: e.on } : {}) })),
  };
}

/** The first `step-N` no step is called. */
export function nextStepId(draft: WorkflowDraft): string {
  const taken = new Set(draft.steps.map((s) => s.step.id));
  let n = 1;
  while (taken.has(`step-${n}`)) n += 1;
  return `step-${n}`;
}

function freshKey(draft: WorkflowDraft): string {
  const used = draft.steps.map((s) => Number(/^s(\d+)$/.exec(s.key)?.[1] ?? 0));
  return `s${Math.max(0, ...used) + 1}`;
}

/** Adds a step that runs an (empty) shell command; returns the draft and the new step's key. */
export function addStep(draft: WorkflowDraft): { draft: WorkflowDraft; key: string } {
  const key = freshKey(draft);
  const step: Step = { id: nextStepId(draft), action: { kind: 'shell', command: '' } };
  return { draft: { ...draft, steps: [...draft.steps, { key, step }] }, key };
}

/** Replaces step `key`'s API shape. */
export function setStep(draft: WorkflowDraft, key: string, step: Step): WorkflowDraft {
  return { ...draft, steps: draft.steps.map((s) => (s.key === key ? { key, step } : s)) };
}

/** Removes step `key` and its edges. */
export function removeStep(draft: WorkflowDraft, key: string): WorkflowDraft {
  return {
    steps: draft.steps.filter((s) => s.key !== key),
    edges: draft.edges.filter((e) => e.from !== key && e.to !== key),
  };
}

/** Makes `to` follow `from` on `on`: a new edge. When the edge is there already, the draft is
 * left as it is (its condition too: dragging onto an edge does not reset it; setEdgeOn changes
 * it). A step cannot follow itself; a cycle is allowed here and refused by the checks. */
export function connect(draft: WorkflowDraft, from: string, to: string, on: FollowOn = 'succeeded'): WorkflowDraft {
  if (from === to || !draft.steps.some((s) => s.key === from) || !draft.steps.some((s) => s.key === to)) return draft;
  if (draft.edges.some((e) => e.from === from && e.to === to)) return draft;
  return { ...draft, edges: [...draft.edges, { from, to, on }] };
}

export function setEdgeOn(draft: WorkflowDraft, index: number, on: FollowOn): WorkflowDraft {
  return { ...draft, edges: draft.edges.map((e, i) => (i === index ? { ...e, on } : e)) };
}

export function removeEdge(draft: WorkflowDraft, index: number): WorkflowDraft {
  return { ...draft, edges: draft.edges.filter((_, i) => i !== index) };
}

/** What a step runs, as the editor offers it: its own command or HTTP request, an existing
 * job, or an action kind the editor only shows (monitor, function). */
export type StepRunKind = 'command' | 'http' | 'job' | 'monitor' | 'function' | 'workflow';

export function stepRunKind(step: Step): StepRunKind {
  if (!step.action) return 'job';
  return step.action.kind === 'shell' ? 'command' : step.action.kind;
}

/** `step` running `kind` instead, from `stash` (what it ran before under that kind) or empty. */
export function withRunKind(step: Step, kind: 'command' | 'http' | 'job', stash?: { action?: Action; job?: string }): Step {
  const { action: _action, job: _job, ...rest } = step;
  if (kind === 'job') return { ...rest, job: stash?.job ?? '' };
  const fallback: Action = kind === 'command' ? { kind: 'shell', command: '' } : { kind: 'http', method: 'GET', url: '' };
  return { ...rest, action: stash?.action ?? fallback };
}

/** Whether `step` has something to run: a command, a URL, a job. */
export function hasSomethingToRun(step: Step): boolean {
  if (step.action && step.job != null) return false;
  if (!step.action) return !!step.job?.trim();
  switch (step.action.kind) {
    case 'shell':
      return !!step.action.command.trim();
    case 'http':
      return !!step.action.url.trim();
    case 'function':
      return !!step.action.name.trim();
    case 'monitor':
      return true;
    case 'workflow':
      return false;
  }
}

/** One line saying what a step runs, in `t`'s language (a command or URL as it is). */
export function stepSummary(step: Step, t: Translate): string {
  if (!step.action) return step.job ? t('workflow.summary.job', { job: step.job }) : '';
  switch (step.action.kind) {
    case 'shell':
      return step.action.command;
    case 'http':
      return `${step.action.method ?? 'GET'} ${step.action.url}`;
    case 'function':
      return t('workflow.summary.function', { name: step.action.name });
    case 'monitor':
    case 'workflow':
      return t(`kind.${step.action.kind}`);
  }
}

/** A cycle among `edges`, as the nodes along it with the first repeated at the end. */
export function findCycle(nodes: string[], edges: { from: string; to: string }[]): string[] | null {
  const out = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const e of edges) out.get(e.from)?.push(e.to);
  // Not in `mark`: not seen; 1: on the current path; 2: done.
  const mark = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    mark.set(node, 1);
    path.push(node);
    for (const next of out.get(node) ?? []) {
      if (mark.get(next) === 1) return [...path.slice(path.indexOf(next)), next];
      if (!mark.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    mark.set(node, 2);
    return null;
  };
  for (const n of nodes) {
    if (mark.has(n)) continue;
    const found = visit(n);
    if (found) return found;
  }
  return null;
}

/**
 * Each node's layer: 0 without edges into it, else one more than the deepest node before it,
 * so every edge points right. Nodes on a cycle (which the checks refuse) go one layer past the
 * others they follow.
 */
export function layers(nodes: string[], edges: { from: string; to: string }[]): Map<string, number> {
  const known = new Set(nodes);
  const valid = edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  const waiting = new Map(nodes.map((n) => [n, 0]));
  for (const e of valid) waiting.set(e.to, (waiting.get(e.to) ?? 0) + 1);
  const layer = new Map<string, number>();
  const ready = nodes.filter((n) => waiting.get(n) === 0);
  for (const n of ready) layer.set(n, 0);
  while (ready.length) {
    const n = ready.shift()!;
    for (const e of valid.filter((e) => e.from === n)) {
      layer.set(e.to, Math.max(layer.get(e.to) ?? 0, (layer.get(n) ?? 0) + 1));
      const left = (waiting.get(e.to) ?? 0) - 1;
      waiting.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
  }
  // Left over: on or after a cycle.
  for (const n of nodes) {
    if (waiting.get(n) === 0) continue;
    const before = valid.filter((e) => e.to === n && layer.has(e.from) && waiting.get(e.from) === 0);
    layer.set(n, Math.max(0, ...before.map((e) => (layer.get(e.from) ?? 0) + 1), layer.get(n) ?? 0));
  }
  return layer;
}

/** Where each node goes: x by layer, y by its place among its layer's nodes (in `nodes` order). */
export function layout(nodes: string[], edges: { from: string; to: string }[]): Record<string, { x: number; y: number }> {
  const layerOf = layers(nodes, edges);
  const rows = new Map<number, number>();
  const at: Record<string, { x: number; y: number }> = {};
  for (const n of nodes) {
    const layer = layerOf.get(n) ?? 0;
    const row = rows.get(layer) ?? 0;
    rows.set(layer, row + 1);
    at[n] = { x: layer * LAYER_GAP, y: row * ROW_GAP };
  }
  return at;
}

/** How many nodes the most crowded layer has (at least 1): how tall the graph is. */
export function widestLayer(nodes: string[], edges: { from: string; to: string }[]): number {
  const count = new Map<number, number>();
  for (const layer of layers(nodes, edges).values()) count.set(layer, (count.get(layer) ?? 0) + 1);
  return Math.max(1, ...count.values());
}

/** What the canvas is laid out from: which steps there are and what connects them (not the
 * step ids or edge conditions, which change nothing about where steps go). */
export function structureOf(draft: WorkflowDraft): string {
  return `${draft.steps.map((s) => s.key).join(',')}|${draft.edges.map((e) => `${e.from}>${e.to}`).join(',')}`;
}

/** Why a workflow cannot be saved: the first thing the checks found, naming the step (`key`
 * on the canvas, `id` as typed). */
export type WorkflowProblem =
  | { code: 'noSteps' }
  | { code: 'emptyId'; key: string; index: number }
  | { code: 'badId'; key: string; id: string }
  | { code: 'duplicateId'; key: string; id: string }
  | { code: 'nothingToRun'; key: string; id: string }
  | { code: 'cycle'; keys: string[]; cycle: string }

/** The checks the server makes that the editor can make first, in the server's order. */
export function checkDraft(draft: WorkflowDraft): WorkflowProblem | null {
  if (draft.steps.length === 0) return { code: 'noSteps' };
  const seen = new Set<string>();
  for (const [index, { key, step }] of draft.steps.entries()) {
    if (!step.id) return { code: 'emptyId', key, index };
    if (!STEP_ID.test(step.id)) return { code: 'badId', key, id: step.id };
    if (seen.has(step.id)) return { code: 'duplicateId', key, id: step.id };
    seen.add(step.id);
    if (!hasSomethingToRun(step)) return { code: 'nothingToRun', key, id: step.id };
  }
  const keys = findCycle(draft.steps.map((s) => s.key), draft.edges);
  if (keys) {
    const idOf = new Map(draft.steps.map((s) => [s.key, s.step.id]));
    return { code: 'cycle', keys, cycle: keys.map((k) => idOf.get(k) ?? k).join(' → ') };
  }
  return null;
}

/** What a server field error about a workflow (`action.steps[2].action.command`,
 * `action.edges[0].to`, `action.edges`) is about, in the draft that was saved; null when the
 * field is not about the workflow's steps or edges. */
export function serverErrorAt(
  field: string | null,
  draft: WorkflowDraft,
): { key?: string; step?: string; edge?: string; path: string } | null {
  if (!field) return null;
  const step = /^action\.steps\[(\d+)\]\.?(.*)$/.exec(field);
  if (step) {
    const s = draft.steps[Number(step[1])];
    return s ? { key: s.key, step: s.step.id, path: step[2] } : { path: field };
  }
  const edge = /^action\.edges\[(\d+)\]\.?(.*)$/.exec(field);
  if (edge) {
    const e = draft.edges[Number(edge[1])];
    const idOf = new Map(draft.steps.map((s) => [s.key, s.step.id]));
    return e ? { edge: `${idOf.get(e.from)} → ${idOf.get(e.to)}`, path: edge[2] } : { path: field };
  }
  if (field === 'action.steps' || field === 'action.edges') return { path: '' };
  return null;
}

/** How a step of a workflow run stands: its current run's state, or not run yet. */
export type StepState = RunState | 'pending';

/**
 * The run each step of workflow run's graph shows, by step id: the step's newest run, when it
 * is current. As the scheduler plans, a run is current only when it is newer than the current
 * runs of all the steps before it: after a step is retried, the old runs of the steps after it
 * are history, and those steps wait to run again (no entry). A newest run that was abandoned
 * is not current either: the step runs again. A step before it with no run at all in this
 * workflow run (the job was edited since: a step added or renamed) does not count, the steps
 * before that one do: an old run's graph still shows what ran, and a retry there still sends
 * the steps after the retried one back to waiting. Runs of steps the workflow no longer has
 * are kept as they are.
 */
export function currentStepRuns(workflow: Workflow, runs: RunRecord[]): Map<string, RunRecord> {
  const newest = new Map<string, RunRecord>();
  for (const r of runs) {
    if (r.step == null) continue;
    const had = newest.get(r.step);
    if (!had || had.id < r.id) newest.set(r.step, r);
  }
  const ids = workflow.steps.map((s) => s.id);
  const before = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of workflow.edges ?? []) before.get(e.to)?.push(e.from);
  const current = new Map<string, RunRecord>();
  // Memoised by step; a step on a cycle (never saved) counts its newest run.
  const decided = new Map<string, RunRecord | null>();
  const visiting = new Set<string>();
  // The current runs a step's run must be newer than: those of the steps before it that ran,
  // and through each step before it that never ran, those before that one. Memoised by step;
  // a cycle (never saved) ends the search.
  const bounds = new Map<string, (RunRecord | null)[]>();
  const passing = new Set<string>();
  const boundsOf = (id: string): (RunRecord | null)[] => {
    if (bounds.has(id)) return bounds.get(id)!;
    if (passing.has(id)) return [];
    passing.add(id);
    // Each once (steps that never ran may join again, as in a diamond).
    const found = [...new Set((before.get(id) ?? []).flatMap((p) => (newest.has(p) ? [decide(p)] : boundsOf(p))))];
    passing.delete(id);
    bounds.set(id, found);
    return found;
  };
  const decide = (id: string): RunRecord | null => {
    if (decided.has(id)) return decided.get(id)!;
    const had = newest.get(id) ?? null;
    const run = had?.state === 'abandoned' ? null : had;
    if (visiting.has(id)) return run;
    visiting.add(id);
    const prior = boundsOf(id);
    visiting.delete(id);
    const isCurrent = run !== null && prior.every((p) => p !== null && p.id < run.id);
    decided.set(id, isCurrent ? run : null);
    return isCurrent ? run : null;
  };
  for (const id of ids) {
    const run = decide(id);
    if (run) current.set(id, run);
  }
  for (const [step, run] of newest) if (!before.has(step)) current.set(step, run);
  return current;
}

/** The step ids a workflow run's graph shows: the workflow's, then those only its runs name. */
export function runGraphSteps(workflow: Workflow, runs: RunRecord[]): string[] {
  const ids = workflow.steps.map((s) => s.id);
  const known = new Set(ids);
  for (const r of [...runs].sort((a, b) => a.id - b.id)) {
    if (r.step != null && !known.has(r.step)) {
      known.add(r.step);
      ids.push(r.step);
    }
  }
  return ids;
}

/** States a step's run may be retried from: it ran and did not succeed. */
export function canRetryState(state: RunState): boolean {
  return state === 'failed' || state === 'timed_out' || state === 'cancelled' || state === 'missed' || state === 'abandoned';
}
