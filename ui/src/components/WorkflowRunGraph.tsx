// A workflow run as its graph: each step coloured and labelled by its current run, refreshed
// every second while the workflow runs. A click on a step opens its run.

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
import { durationMs, formatDuration } from '../util/format';
import { useInterval } from '../util/hooks';
import { ROW_GAP, currentStepRuns, layout, runGraphSteps, stepSummary, widestLayer, type StepState } from '../util/workflow';
import { ErrorAlert } from './common';
import { NODE_WIDTH, StepHandles, conditionEdge } from './workflowCanvas';

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

type RunStepNode = Node<{ step: string; summary: string; run?: RunRecord; open: (id: number) => void }, 'runStep'>;

function RunStepView({ data }: NodeProps<RunStepNode>) {
  const t = useT();
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
      title={run ? (run.error ?? t('workflow.openStep')) : t('workflow.pending')}
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

/** Measures the nodes' handles again whenever they are rebuilt: a node replaced by a new
 * object of the same size is not measured again, and its edges would stay hidden. */
function Remeasure({ nodes }: { nodes: RunStepNode[] }) {
  const update = useUpdateNodeInternals();
  useEffect(() => {
    update(nodes.map((n) => n.id));
  }, [nodes, update]);
  return null;
}

/** Workflow run `run`'s graph, `workflow` being its job's steps and edges. `onOpenRun` opens
 * a step's run. */
export function WorkflowRunGraph({ run, workflow, onOpenRun }: { run: RunRecord; workflow: Workflow; onOpenRun: (id: number) => void }) {
  const t = useT();
  const { dark } = usePrefs();
  const { token } = theme.useToken();
  const [steps, setSteps] = useState<RunRecord[]>([]);
  const [error, setError] = useState<unknown>(null);

  // Answers about another workflow run (the viewer moved on) are dropped.
  const wanted = useRef(run.id);
  wanted.current = run.id;
  const load = () => {
    const id = run.id;
    api.listRuns({ upstream: id, limit: 1000 }).then(
      (items) => {
        if (wanted.current !== id) return;
        // A chain's followers share the upstream: only this job's step runs are steps.
        setSteps(items.filter((r) => r.step != null && r.job_id === run.job_id));
        setError(null);
      },
      (e: unknown) => {
        if (wanted.current === id) setError(e);
      },
    );
  };
  useEffect(() => setSteps([]), [run.id]);
  // Again whenever the workflow run changes state: its end, or a retry's new start.
  useEffect(load, [run.id, run.job_id, run.state]);
  useInterval(load, isFinal(run.state) ? null : 1000);

  const ids = useMemo(() => runGraphSteps(workflow, steps), [workflow, steps]);
  const current = useMemo(() => currentStepRuns(workflow, steps), [workflow, steps]);
  const edgesIn = workflow.edges ?? [];
  const at = useMemo(() => layout(ids, workflow.edges ?? []), [ids, workflow.edges]);
  // The latest opener, behind one function the nodes keep (callers pass a new one each render).
  const opener = useRef(onOpenRun);
  opener.current = onOpenRun;
  const open = useCallback((id: number) => opener.current(id), []);

  // Nodes keep their measured size between polls (new node objects would be measured again,
  // their edges hidden meanwhile).
  const [nodes, setNodes] = useState<RunStepNode[]>([]);
  useEffect(() => {
    const byId = new Map(workflow.steps.map((s) => [s.id, s]));
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      return ids.map((id) => {
        const step = byId.get(id);
        return {
          ...old.get(id),
          id,
          type: 'runStep',
          position: at[id],
          data: { step: id, summary: step ? stepSummary(step) : '', run: current.get(id), open },
        };
      });
    });
  }, [ids, at, current, workflow.steps, open]);
  const edges = edgesIn.map((e, i) => conditionEdge(`e${i}`, e.from, e.to, e.on, t, { background: token.colorBgContainer }));
  // Tall enough for the tallest layer.
  const height = Math.min(440, Math.max(180, widestLayer(ids, edgesIn) * ROW_GAP + 70));

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
        >
          <Controls showInteractive={false} />
          <Remeasure nodes={nodes} />
        </ReactFlow>
      </div>
    </div>
  );
}
