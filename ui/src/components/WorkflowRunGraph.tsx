// A workflow run as its graph: each step coloured and labelled by its current run, refreshed
// every second while the workflow runs and the graph is shown. A click on a step opens its run.

import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Typography, theme } from 'antd';
import {
  CheckCircleOutlined,
  ClockCircleOutlined,
  CloseCircleOutlined,
  FieldTimeOutlined,
  MinusCircleOutlined,
  StopOutlined,
  SyncOutlined,
  WarningOutlined,
} from '@ant-design/icons';
import { Controls, ReactFlow, applyNodeChanges, useUpdateNodeInternals, type Node, type NodeProps } from '@xyflow/react';
import { api } from '../api';
import { isFinal, type RunRecord, type Workflow } from '../api/types';
import { usePrefs, useT } from '../state/prefs';
import { runError } from '../i18n/problems';
import { durationMs, formatDuration } from '../util/format';
import { useInterval } from '../util/hooks';
import { ROW_GAP, currentStepRuns, layout, runGraphSteps, stepSummary, widestLayer, type StepState } from '../util/workflow';
import { ErrorAlert } from './common';
import { NODE_WIDTH, StepHandles, conditionEdge, flowAriaLabels } from './workflowCanvas';

/** How a step in each state looks: pending grey, running blue, succeeded green, failed red,
 * skipped or missed light grey and dashed, cancelled orange. */
const LOOK: Record<StepState, { color: string; icon: ReactNode; dashed?: boolean }> = {
  pending: { color: '#8c8c8c', icon: <ClockCircleOutlined /> },
  submitted: { color: '#1677ff', icon: <SyncOutlined spin /> },
  running: { color: '#1677ff', icon: <SyncOutlined spin /> },
  succeeded: { color: '#52c41a', icon: <CheckCircleOutlined /> },
  failed: { color: '#ff4d4f', icon: <CloseCircleOutlined /> },
  timed_out: { color: '#ff4d4f', icon: <FieldTimeOutlined /> },
  abandoned: { color: '#ff4d4f', icon: <WarningOutlined /> },
  cancelled: { color: '#fa8c16', icon: <StopOutlined /> },
  skipped: { color: '#bfbfbf', icon: <MinusCircleOutlined />, dashed: true },
  missed: { color: '#bfbfbf', icon: <MinusCircleOutlined />, dashed: true },
};

type RunStepData = { step: string; summary: string; run?: RunRecord; open: (id: number) => void };
type RunStepNode = Node<RunStepData, 'runStep'>;

/** Whether a node showing `old` shows the same as one showing `next`: the same run, in the
 * same state, with the same times and error, summary and opener. */
function sameContent(old: RunStepData, next: RunStepData): boolean {
  const a = old.run;
  const b = next.run;
  const sameRun =
    a === b ||
    (a !== undefined &&
      b !== undefined &&
      a.id === b.id &&
      a.state === b.state &&
      a.started === b.started &&
      a.finished === b.finished &&
      a.error === b.error);
  return sameRun && old.step === next.step && old.summary === next.summary && old.open === next.open;
}

/** `next`, or `prev` when it names the same steps in the same order (so what is computed from
 * the steps is not computed again on every poll). */
function sameList(prev: string[], next: string[]): string[] {
  return prev.length === next.length && prev.every((id, i) => id === next[i]) ? prev : next;
}

function RunStepView({ data }: NodeProps<RunStepNode>) {
  const { t, lang } = usePrefs();
  const { token } = theme.useToken();
  const { run } = data;
  const state: StepState = run?.state ?? 'pending';
  const look = LOOK[state];
  const duration = run && isFinal(run.state) ? durationMs(run.started, run.finished) : null;
  return (
    <div
      data-testid={`workflow-run-node-${data.step}`}
      data-state={state}
      data-run-id={run?.id}
      className={state === 'running' ? 'kairos-step-running' : undefined}
      title={run ? (runError(lang, run) ?? t('workflow.openStep')) : t('workflow.pending')}
      // A click opens the run through the canvas (onNodeClick); the keyboard, here.
      role={run ? 'button' : undefined}
      tabIndex={run ? 0 : undefined}
      onKeyDown={(e) => {
        if (run && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          data.open(run.id);
        }
      }}
      style={{
        width: NODE_WIDTH,
        padding: '6px 10px',
        borderRadius: 8,
        border: `2px ${look.dashed ? 'dashed' : 'solid'} ${look.color}`,
        background: token.colorBgContainer,
        opacity: look.dashed ? 0.75 : 1,
        cursor: run ? 'pointer' : 'default',
      }}
    >
      <StepHandles connectable={false} />
      <div style={{ display: 'flex', gap: 6, alignItems: 'center', fontWeight: 600, color: token.colorText }}>
        <span style={{ color: look.color }}>{look.icon}</span>
        <span style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{data.step}</span>
      </div>
      {data.summary && (
        <div style={{ fontSize: 11, fontFamily: token.fontFamilyCode, color: token.colorTextSecondary, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
          {data.summary}
        </div>
      )}
      <div style={{ fontSize: 12, color: look.color }}>
        {state === 'pending' ? t('workflow.pending') : t(`state.${state}`)}
        {duration !== null && <span style={{ color: token.colorTextTertiary }}> · {formatDuration(duration)}</span>}
      </div>
    </div>
  );
}

const NODE_TYPES = { runStep: RunStepView };

/** Measures the handles of the nodes that were rebuilt again: a node replaced by a new object
 * of the same size is not measured again, and its edges would stay hidden. Only those: a node
 * whose content did not change keeps its object (and its data), and a node the canvas only
 * measured (a new object, the same data) needs nothing. */
function Remeasure({ nodes }: { nodes: RunStepNode[] }) {
  const update = useUpdateNodeInternals();
  const seen = useRef(new Map<string, RunStepData>());
  useEffect(() => {
    const rebuilt = nodes.filter((n) => seen.current.get(n.id) !== n.data).map((n) => n.id);
    seen.current = new Map(nodes.map((n) => [n.id, n.data]));
    if (rebuilt.length > 0) update(rebuilt);
  }, [nodes, update]);
  return null;
}

/** Workflow run `run`'s graph, `workflow` being its job's steps and edges. `onOpenRun` opens
 * a step's run. It reads its steps' runs only while `active` (the viewer it is in is open). */
export function WorkflowRunGraph({
  run,
  workflow,
  onOpenRun,
  active = true,
}: {
  run: RunRecord;
  workflow: Workflow;
  onOpenRun: (id: number) => void;
  active?: boolean;
}) {
  const t = useT();
  const { dark } = usePrefs();
  const { token } = theme.useToken();
  const [steps, setSteps] = useState<RunRecord[]>([]);
  const [error, setError] = useState<unknown>(null);

  // Answers about another workflow run (the viewer moved on) are dropped, and so are answers
  // to a request older than the last answer applied (they may cross on the network: an older
  // one applied last would show a step as running for good, the workflow run having ended).
  const wanted = useRef(run.id);
  wanted.current = run.id;
  const asked = useRef(0);
  const applied = useRef(0);
  const load = () => {
    const id = run.id;
    const jobId = run.job_id;
    asked.current += 1;
    const n = asked.current;
    const fresh = () => {
      if (wanted.current !== id || n < applied.current) return false;
      applied.current = n;
      return true;
    };
    api.listRuns({ upstream: id, limit: 1000 }).then(
      (items) => {
        if (!fresh()) return;
        // A chain's followers share the upstream: only this job's step runs are steps.
        setSteps(items.filter((r) => r.step != null && r.job_id === jobId));
        setError(null);
      },
      (e: unknown) => {
        if (fresh()) setError(e);
      },
    );
  };
  useEffect(() => setSteps([]), [run.id]);
  // Again whenever the workflow run changes state (its end, or a retry's new start), and when
  // the graph is shown again.
  useEffect(() => {
    if (active) load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [run.id, run.job_id, run.state, active]);
  useInterval(load, active && !isFinal(run.state) ? 1000 : null);

  // The step ids keep their array while they stay the same, so the layout and the height are
  // computed again only when steps come or go, not on every poll.
  const lastIds = useRef<string[]>([]);
  const ids = useMemo(() => (lastIds.current = sameList(lastIds.current, runGraphSteps(workflow, steps))), [workflow, steps]);
  const current = useMemo(() => currentStepRuns(workflow, steps), [workflow, steps]);
  const edgesIn = useMemo(() => workflow.edges ?? [], [workflow.edges]);
  const at = useMemo(() => layout(ids, edgesIn), [ids, edgesIn]);
  // The latest opener, behind one function the nodes keep (callers pass a new one each render).
  const opener = useRef(onOpenRun);
  opener.current = onOpenRun;
  const open = useCallback((id: number) => opener.current(id), []);

  // Nodes keep their measured size between polls (new node objects would be measured again,
  // their edges hidden meanwhile), and a node whose content did not change keeps its object:
  // with 200 steps, a poll rebuilds only the few that moved on.
  const [nodes, setNodes] = useState<RunStepNode[]>([]);
  useEffect(() => {
    const byId = new Map(workflow.steps.map((s) => [s.id, s]));
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      let changed = prev.length !== ids.length;
      const next = ids.map((id, i): RunStepNode => {
        const step = byId.get(id);
        const data: RunStepData = { step: id, summary: step ? stepSummary(step, t) : '', run: current.get(id), open };
        const had = old.get(id);
        const position = at[id];
        const node: RunStepNode =
          had && had.position.x === position.x && had.position.y === position.y && sameContent(had.data, data)
            ? had
            : { ...had, id, type: 'runStep', position, data };
        if (prev[i] !== node) changed = true;
        return node;
      });
      return changed ? next : prev;
    });
  }, [ids, at, current, workflow.steps, open, t]);
  const edges = useMemo(
    () => edgesIn.map((e, i) => conditionEdge(`e${i}`, e.from, e.to, e.on, t, { background: token.colorBgContainer })),
    [edgesIn, t, token.colorBgContainer],
  );
  // Tall enough for the tallest layer.
  const height = useMemo(() => Math.min(440, Math.max(180, widestLayer(ids, edgesIn) * ROW_GAP + 70)), [ids, edgesIn]);
  const ariaLabels = useMemo(() => flowAriaLabels(t, false), [t]);

  return (
    <div>
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        {t('workflow.title')}
      </Typography.Title>
      {error ? <ErrorAlert error={error} onRetry={load} /> : null}
      <div
        data-testid="workflow-run-graph"
        className="kairos-flow"
        style={{ height, border: `1px solid ${token.colorBorderSecondary}`, borderRadius: token.borderRadius }}
      >
        <ReactFlow<RunStepNode>
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          onNodesChange={(changes) => setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type === 'dimensions'), ns))}
          colorMode={dark ? 'dark' : 'light'}
          fitView
          fitViewOptions={{ maxZoom: 1, padding: 0.15 }}
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          zoomOnScroll={false}
          preventScrolling={false}
          onNodeClick={(_, node) => {
            if (node.data.run) onOpenRun(node.data.run.id);
          }}
          ariaLabelConfig={ariaLabels}
        >
          <Controls showInteractive={false} />
          <Remeasure nodes={nodes} />
        </ReactFlow>
      </div>
    </div>
  );
}
