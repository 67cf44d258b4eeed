import { describe, expect, it } from 'vitest';
import type { RunRecord, RunState, Workflow } from '../api/types';
import {
  addStep,
  checkDraft,
  connect,
  currentStepRuns,
  findCycle,
  fromDraft,
  hasSomethingToRun,
  layers,
  layout,
  nextStepId,
  removeEdge,
  removeStep,
  runGraphSteps,
  serverErrorAt,
  setEdgeOn,
  setStep,
  stepRunKind,
  structureOf,
  toDraft,
  widestLayer,
  withRunKind,
  type WorkflowDraft,
} from './workflow';

const etl: Workflow = {
  steps: [
    { id: 'extract', action: { kind: 'shell', command: 'echo extracted', env: { A: '1' } }, retries: { count: 2, backoff_s: 5 } },
    { id: 'transform', job: 'transformer', timeout_s: 60 },
    { id: 'load', action: { kind: 'http', method: 'POST', url: 'https://x.test/load', headers: { 'X-A': 'b' } } },
  ],
  edges: [
    { from: 'extract', to: 'transform', on: 'succeeded' },
    { from: 'transform', to: 'load', on: 'completed' },
  ],
};

function draftOf(ids: string[], edges: [string, string][] = []): WorkflowDraft {
  return toDraft({
    steps: ids.map((id) => ({ id, action: { kind: 'shell', command: `echo ${id}` } })),
    edges: edges.map(([from, to]) => ({ from, to, on: 'succeeded' })),
  });
}

function run(id: number, step: string | null, state: RunState): RunRecord {
  return { id, job_id: 'wf', step, upstream: 1, state, scheduled: '2026-01-01T00:00:00Z', attempt: 1 } as RunRecord;
}

describe('workflow drafts', () => {
  it('round-trip a workflow exactly, keeping fields the editor does not show', () => {
    const draft = toDraft(etl);
    expect(draft.steps.map((s) => s.key)).toEqual(['s1', 's2', 's3']);
    expect(draft.edges).toEqual([
      { from: 's1', to: 's2', on: 'succeeded' },
      { from: 's2', to: 's3', on: 'completed' },
    ]);
    expect(fromDraft(draft)).toEqual(etl);
    // An edge without a condition stays without one (the server reads it as on success).
    expect(fromDraft(toDraft({ steps: etl.steps, edges: [{ from: 'extract', to: 'load' }] })).edges).toEqual([{ from: 'extract', to: 'load' }]);
  });

  it('keeps edges on their steps when a step is renamed, whatever it is called meanwhile', () => {
    let draft = toDraft(etl);
    const [extract, transform] = draft.steps;
    // For a moment two steps share an id: the edges still know which is which.
    draft = setStep(draft, transform.key, { ...transform.step, id: 'extract' });
    draft = setStep(draft, transform.key, { ...transform.step, id: 'reshape' });
    draft = setStep(draft, extract.key, { ...extract.step, id: 'pull' });
    expect(fromDraft(draft).edges).toEqual([
      { from: 'pull', to: 'reshape', on: 'succeeded' },
      { from: 'reshape', to: 'load', on: 'completed' },
    ]);
    expect(fromDraft(draft).steps[0]).toEqual({ ...etl.steps[0], id: 'pull' });
  });

  it('adds steps with free ids and fresh keys, and removes a step with its edges', () => {
    let draft = draftOf(['step-1', 'step-3']);
    expect(nextStepId(draft)).toBe('step-2');
    const added = addStep(draft);
    expect(added.key).toBe('s3');
    expect(added.draft.steps[2].step).toEqual({ id: 'step-2', action: { kind: 'shell', command: '' } });
    expect(nextStepId(added.draft)).toBe('step-4');
    draft = connect(connect(added.draft, 's1', 's3'), 's3', 's2', 'failed');
    draft = removeStep(draft, 's3');
    expect(draft.steps.map((s) => s.step.id)).toEqual(['step-1', 'step-3']);
    expect(draft.edges).toEqual([]);
    // A key follows the highest in use, so it never names two steps at once.
    expect(addStep(draft).key).toBe('s3');
    expect(addStep(removeStep(addStep(draft).draft, 's1')).key).toBe('s4');
  });

  it('connects steps once, never a step to itself, and edits or removes an edge', () => {
    let draft = draftOf(['a', 'b']);
    draft = connect(draft, 's1', 's2');
    expect(connect(draft, 's1', 's1')).toBe(draft);
    expect(connect(draft, 's1', 'nowhere')).toBe(draft);
    draft = setEdgeOn(draft, 0, 'failed');
    // Connecting again (a drag onto the edge there) leaves the edge and its condition alone.
    expect(connect(draft, 's1', 's2')).toBe(draft);
    expect(connect(draft, 's1', 's2', 'completed')).toBe(draft);
    expect(draft.edges).toEqual([{ from: 's1', to: 's2', on: 'failed' }]);
    draft = setEdgeOn(draft, 0, 'completed');
    expect(fromDraft(draft).edges).toEqual([{ from: 'a', to: 'b', on: 'completed' }]);
    expect(removeEdge(draft, 0).edges).toEqual([]);
  });

  it('switches what a step runs and back without losing what it ran', () => {
    const step = etl.steps[0];
    expect(stepRunKind(step)).toBe('command');
    const http = withRunKind(step, 'http');
    expect(http).toEqual({ id: 'extract', retries: { count: 2, backoff_s: 5 }, action: { kind: 'http', method: 'GET', url: '' } });
    const job = withRunKind(http, 'job');
    expect(job).toEqual({ id: 'extract', retries: { count: 2, backoff_s: 5 }, job: '' });
    expect(stepRunKind(job)).toBe('job');
    expect(hasSomethingToRun(job)).toBe(false);
    expect(withRunKind(job, 'command', { action: step.action! })).toEqual(step);
  });
});

describe('workflow checks', () => {
  it('want steps, valid unique ids and something to run', () => {
    expect(checkDraft(draftOf([]))).toEqual({ code: 'noSteps' });
    expect(checkDraft(draftOf(['a', '']))).toEqual({ code: 'emptyId', key: 's2', index: 1 });
    expect(checkDraft(draftOf(['a', 'b c']))).toEqual({ code: 'badId', key: 's2', id: 'b c' });
    expect(checkDraft(draftOf(['a', 'x'.repeat(65)]))).toMatchObject({ code: 'badId' });
    expect(checkDraft(draftOf(['a_1', 'B-2', 'a_1']))).toEqual({ code: 'duplicateId', key: 's3', id: 'a_1' });
    const empty = addStep(draftOf(['a'])).draft;
    expect(checkDraft(empty)).toEqual({ code: 'nothingToRun', key: 's2', id: 'step-1' });
    const noUrl = setStep(empty, 's2', { id: 'ping', action: { kind: 'http', url: ' ' } });
    expect(checkDraft(noUrl)).toEqual({ code: 'nothingToRun', key: 's2', id: 'ping' });
    expect(checkDraft(setStep(empty, 's2', { id: 'ping', job: 'other' }))).toBeNull();
    expect(checkDraft(toDraft(etl))).toBeNull();
  });

  it('name a cycle by its step ids', () => {
    const draft = draftOf(['a', 'b', 'c'], [['a', 'b'], ['b', 'c'], ['c', 'b']]);
    expect(checkDraft(draft)).toEqual({ code: 'cycle', keys: ['s2', 's3', 's2'], cycle: 'b → c → b' });
    expect(findCycle(['a', 'b'], [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }])).toEqual(['a', 'b', 'a']);
    expect(findCycle(['a', 'b', 'c'], [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'c' }])).toBeNull();
  });

  it('find the step or edge a server error names', () => {
    const draft = toDraft(etl);
    expect(serverErrorAt('action.steps[1].job', draft)).toEqual({ key: 's2', step: 'transform', path: 'job' });
    expect(serverErrorAt('action.steps[2].action.url', draft)).toEqual({ key: 's3', step: 'load', path: 'action.url' });
    expect(serverErrorAt('action.steps[0]', draft)).toEqual({ key: 's1', step: 'extract', path: '' });
    expect(serverErrorAt('action.edges[1].to', draft)).toEqual({ edge: 'transform → load', path: 'to' });
    expect(serverErrorAt('action.edges', draft)).toEqual({ path: '' });
    expect(serverErrorAt('action.steps[9].id', draft)).toEqual({ path: 'action.steps[9].id' });
    expect(serverErrorAt('action.command', draft)).toBeNull();
    expect(serverErrorAt(null, draft)).toBeNull();
  });
});

describe('workflow layout', () => {
  it('puts each step one layer right of the deepest step before it', () => {
    // a → b → d, a → c → d, e alone, c → f
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'];
    const edges = [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'd' },
      { from: 'a', to: 'c' },
      { from: 'c', to: 'd' },
      { from: 'c', to: 'f' },
    ];
    expect(Object.fromEntries(layers(nodes, edges))).toEqual({ a: 0, e: 0, b: 1, c: 1, d: 2, f: 2 });
    expect(layout(nodes, edges)).toEqual({
      a: { x: 0, y: 0 },
      b: { x: 290, y: 0 },
      c: { x: 290, y: 110 },
      d: { x: 580, y: 0 },
      e: { x: 0, y: 110 },
      f: { x: 580, y: 110 },
    });
    expect(widestLayer(nodes, edges)).toBe(2);
    expect(widestLayer([], [])).toBe(1);
    // A long way round pushes a step further right than a short one.
    expect(layers(['x', 'y', 'z'], [{ from: 'x', to: 'z' }, { from: 'x', to: 'y' }, { from: 'y', to: 'z' }]).get('z')).toBe(2);
  });

  it('places every step even when there is a cycle', () => {
    const at = layout(['a', 'b', 'c'], [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'b' }]);
    expect(Object.keys(at).sort()).toEqual(['a', 'b', 'c']);
    expect(at.a).toEqual({ x: 0, y: 0 });
    expect(at.b.x).toBeGreaterThan(0);
  });

  it('re-lays out on new steps or edges, not on renames or conditions', () => {
    const draft = draftOf(['a', 'b'], [['a', 'b']]);
    const before = structureOf(draft);
    expect(structureOf(setEdgeOn(setStep(draft, 's1', { id: 'z', job: 'j' }), 0, 'failed'))).toBe(before);
    expect(structureOf(addStep(draft).draft)).not.toBe(before);
    expect(structureOf(removeEdge(draft, 0))).not.toBe(before);
  });
});

describe('workflow run graph', () => {
  const wf: Workflow = {
    steps: [{ id: 'a', job: 'x' }, { id: 'b', job: 'x' }, { id: 'c', job: 'x' }],
    edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }],
  };
  const states = (m: Map<string, RunRecord>) => Object.fromEntries([...m].map(([k, r]) => [k, `${r.id}:${r.state}`]));

  it('shows each step’s newest run, and nothing for steps not run yet', () => {
    const runs = [run(3, 'b', 'running'), run(2, 'a', 'succeeded'), run(9, null, 'succeeded')];
    expect(states(currentStepRuns(wf, runs))).toEqual({ a: '2:succeeded', b: '3:running' });
  });

  it('after a retry, shows the steps after the retried one as waiting again', () => {
    // a failed (2), b and c skipped (3, 4); a retried: 5 running.
    const runs = [run(5, 'a', 'running'), run(4, 'c', 'skipped'), run(3, 'b', 'skipped'), run(2, 'a', 'failed')];
    expect(states(currentStepRuns(wf, runs))).toEqual({ a: '5:running' });
    // a succeeded this time, b runs.
    const later = [run(7, 'b', 'running'), run(6, 'a', 'succeeded'), ...runs.slice(1)];
    expect(states(currentStepRuns(wf, later))).toEqual({ a: '6:succeeded', b: '7:running' });
  });

  it('shows a step whose newest run was abandoned, and the steps after it, as waiting', () => {
    // The engine runs an abandoned step again, and the steps after it after that.
    const runs = [run(2, 'a', 'succeeded'), run(3, 'b', 'abandoned')];
    expect(states(currentStepRuns(wf, runs))).toEqual({ a: '2:succeeded' });
    const ranOn = [run(2, 'a', 'abandoned'), run(3, 'b', 'succeeded'), run(4, 'c', 'running')];
    expect(states(currentStepRuns(wf, ranOn))).toEqual({});
    // Run again: the new run is current.
    expect(states(currentStepRuns(wf, [...runs, run(4, 'b', 'succeeded')]))).toEqual({ a: '2:succeeded', b: '4:succeeded' });
  });

  it('on an old run of an edited job, ignores steps before a step that never ran in it', () => {
    // Ran as a → c; since, step b was added between them (a → b → c), and step z before a.
    const edited: Workflow = {
      steps: [{ id: 'z', job: 'x' }, { id: 'a', job: 'x' }, { id: 'b', job: 'x' }, { id: 'c', job: 'x' }],
      edges: [{ from: 'z', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'c' }],
    };
    const runs = [run(2, 'a', 'succeeded'), run(3, 'c', 'failed')];
    expect(states(currentStepRuns(edited, runs))).toEqual({ a: '2:succeeded', c: '3:failed' });
    // Renamed: `a` is now `first`, which never ran; `b` (a's follower) still shows its run.
    const renamed: Workflow = { steps: [{ id: 'first', job: 'x' }, ...wf.steps.slice(1)], edges: [{ from: 'first', to: 'b' }, { from: 'b', to: 'c' }] };
    const old = [run(2, 'a', 'succeeded'), run(3, 'b', 'succeeded'), run(4, 'c', 'running')];
    expect(states(currentStepRuns(renamed, old))).toEqual({ a: '2:succeeded', b: '3:succeeded', c: '4:running' });
    // The steps before the one that never ran still count: after a's retry, c (after b, which
    // never ran, after a) waits again.
    expect(states(currentStepRuns(edited, [...runs, run(4, 'a', 'running')]))).toEqual({ a: '4:running' });
    // Many steps that never ran, joining in diamonds, are looked through quickly.
    const wide: Workflow = { steps: [{ id: 'start', job: 'x' }, { id: 'end', job: 'x' }], edges: [] };
    let last = 'start';
    for (let i = 0; i < 60; i += 1) {
      wide.steps.push({ id: `l${i}`, job: 'x' }, { id: `r${i}`, job: 'x' }, { id: `j${i}`, job: 'x' });
      wide.edges!.push({ from: last, to: `l${i}` }, { from: last, to: `r${i}` }, { from: `l${i}`, to: `j${i}` }, { from: `r${i}`, to: `j${i}` });
      last = `j${i}`;
    }
    wide.edges!.push({ from: last, to: 'end' });
    expect(states(currentStepRuns(wide, [run(2, 'start', 'succeeded'), run(3, 'end', 'succeeded')]))).toEqual({ start: '2:succeeded', end: '3:succeeded' });
    expect(states(currentStepRuns(wide, [run(4, 'start', 'running'), run(3, 'end', 'succeeded')]))).toEqual({ start: '4:running' });
  });

  it('keeps runs of steps the workflow no longer has', () => {
    const runs = [run(2, 'a', 'succeeded'), run(4, 'gone', 'failed'), run(3, 'old', 'succeeded')];
    expect(states(currentStepRuns(wf, runs))).toEqual({ a: '2:succeeded', gone: '4:failed', old: '3:succeeded' });
    expect(runGraphSteps(wf, runs)).toEqual(['a', 'b', 'c', 'old', 'gone']);
  });
});
