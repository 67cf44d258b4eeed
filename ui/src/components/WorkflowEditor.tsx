// The job editor's workflow canvas: steps as nodes laid out left to right, edges dragged from
// a step's right handle to another's left one, and a side panel that edits the selected step
// (or edge). "Runs after" in the panel does what dragging does, for keyboards and screen
// readers. The form holds the draft (util/workflow.ts); this only edits it.

import { useEffect, useMemo, useRef, useState } from 'react';
import { Alert, Button, Empty, Flex, Form, Input, InputNumber, Segmented, Select, Space, Typography, theme } from 'antd';
import { CodeOutlined, ApiOutlined, DeleteOutlined, PlusOutlined, ProfileOutlined } from '@ant-design/icons';
import {
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type Node,
  type NodeChange,
  type NodeProps,
} from '@xyflow/react';
import type { Action, FollowOn, Job, Step } from '../api/types';
import type { Translate } from '../i18n';
import { usePrefs, useT } from '../state/prefs';
import {
  FOLLOW_ONS,
  STEP_ID,
  addStep,
  connect,
  emptyDraft,
  hasSomethingToRun,
  layout,
  removeEdge,
  removeStep,
  setEdgeOn,
  setStep,
  stepRunKind,
  stepSummary,
  structureOf,
  withRunKind,
  type DraftEdge,
  type WorkflowDraft,
  type WorkflowProblem,
  serverErrorAt,
} from '../util/workflow';
import { EDGE_COLORS, NODE_WIDTH, StepHandles, conditionEdge, flowAriaLabels } from './workflowCanvas';
import { useJobOptions } from './ChainList';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const CANVAS_HEIGHT = 440;
/** One empty draft for "no value yet", the same object every render. */
const NO_STEPS = emptyDraft();

/** What the checks found, said for the user. */
export function workflowProblemText(problem: WorkflowProblem, t: Translate): string {
  switch (problem.code) {
    case 'noSteps':
      return t('workflow.check.noSteps');
    case 'emptyId':
      return t('workflow.check.emptyId', { n: problem.index + 1 });
    case 'badId':
      return t('workflow.check.badId', { id: problem.id });
    case 'duplicateId':
      return t('workflow.check.duplicateId', { id: problem.id });
    case 'nothingToRun':
      return t('workflow.check.nothingToRun', { id: problem.id });
    case 'cycle':
      return t('workflow.check.cycle', { cycle: problem.cycle });
  }
}

/** The steps (by canvas key) a problem is about, to outline them. */
export function problemKeys(problem: WorkflowProblem | null): string[] {
  if (!problem || problem.code === 'noSteps') return [];
  return problem.code === 'cycle' ? problem.keys : [problem.key];
}

/** A server error about the workflow, naming the step by its id rather than its index; with
 * the step's key to outline it. */
export function workflowServerError(field: string | null, message: string, draft: WorkflowDraft, t: Translate): { text: string; keys: string[] } {
  const at = serverErrorAt(field, draft);
  if (at?.step !== undefined) {
    const text = at.path
      ? t('workflow.serverStepField', { step: at.step, field: at.path, message })
      : t('workflow.serverStep', { step: at.step, message });
    return { text, keys: at.key ? [at.key] : [] };
  }
  if (at?.edge) return { text: t('workflow.serverEdge', { edge: at.edge, message }), keys: [] };
  return { text: at?.path ? `${at.path}: ${message}` : message, keys: [] };
}

function edgeId(e: DraftEdge): string {
  return `${e.from}>${e.to}`;
}

type StepNode = Node<{ id: string; summary: string; ready: boolean; flagged: boolean }, 'step'>;

function StepNodeView({ data, selected }: NodeProps<StepNode>) {
  const t = useT();
  const { token } = theme.useToken();
  const border = data.flagged ? token.colorError : selected ? token.colorPrimary : token.colorBorder;
  return (
    <div
      data-testid={`workflow-node-${data.id}`}
      style={{
        width: NODE_WIDTH,
        padding: '8px 10px',
        borderRadius: 8,
        border: `2px solid ${border}`,
        background: token.colorBgContainer,
        boxShadow: selected ? token.boxShadowSecondary : undefined,
      }}
    >
      <StepHandles connectable />
      <div style={{ fontWeight: 600, color: data.id ? token.colorText : token.colorTextQuaternary, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
        {data.id || '—'}
      </div>
      <div
        style={{
          fontSize: 11,
          fontFamily: data.ready ? token.fontFamilyCode : undefined,
          color: data.ready ? token.colorTextSecondary : token.colorWarningText,
          overflow: 'hidden',
          textOverflow: 'ellipsis',
          whiteSpace: 'nowrap',
        }}
      >
        {data.ready ? data.summary : t('workflow.nothingYet')}
      </div>
    </div>
  );
}

const NODE_TYPES = { step: StepNodeView };

type Selection = { kind: 'step'; key: string } | { kind: 'edge'; id: string } | null;

interface EditorProps {
  /** Given by Form.Item, so the form can scroll to the canvas. */
  id?: string;
  value?: WorkflowDraft;
  onChange?: (draft: WorkflowDraft) => void;
  /** The job being edited (not offered as a step's job). */
  self?: string;
  /** Steps (by key) to outline: what the checks or the server found wrong. */
  flagged?: string[];
}

/** A form control (Form.Item name="workflow") editing a workflow draft. */
export function WorkflowEditor(props: EditorProps) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function Canvas({ id, value, onChange, self, flagged = [] }: EditorProps) {
  const t = useT();
  const { dark } = usePrefs();
  const { token } = theme.useToken();
  const { fitView } = useReactFlow();
  const draft = value ?? NO_STEPS;
  const change = (next: WorkflowDraft) => onChange?.(next);
  const [selection, setSelection] = useState<Selection>(null);
  const [nodes, setNodes] = useState<StepNode[]>([]);

  // Nodes are kept between renders (they carry their measured size and where they were
  // dragged to), and laid out afresh when steps or edges come or go.
  const laidOut = useRef<string | null>(null);
  const structure = structureOf(draft);
  const flaggedKey = flagged.join(',');
  const selectedStep = selection?.kind === 'step' ? selection.key : null;
  useEffect(() => {
    const relayout = laidOut.current !== structure;
    laidOut.current = structure;
    const at = relayout ? layout(draft.steps.map((s) => s.key), draft.edges) : null;
    const marked = new Set(flaggedKey ? flaggedKey.split(',') : []);
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      return draft.steps.map(({ key, step }) => ({
        ...old.get(key),
        id: key,
        type: 'step',
        position: at?.[key] ?? old.get(key)?.position ?? { x: 0, y: 0 },
        selected: key === selectedStep,
        data: { id: step.id, summary: stepSummary(step, t), ready: hasSomethingToRun(step), flagged: marked.has(key) },
      }));
    });
    if (relayout) void fitView({ maxZoom: 1, padding: 0.2 });
  }, [draft, structure, flaggedKey, selectedStep, fitView, t]);

  const edges = useMemo(
    () =>
      draft.edges.map((e) =>
        conditionEdge(edgeId(e), e.from, e.to, e.on, t, {
          selected: selection?.kind === 'edge' && selection.id === edgeId(e),
          background: token.colorBgContainer,
        }),
      ),
    [draft.edges, selection, t, token.colorBgContainer],
  );

  const onNodesChange = (changes: NodeChange<StepNode>[]) => {
    // The canvas owns where nodes are and how big; the selection is ours (a click, or Enter on
    // a focused node, selects), and removals go through the draft.
    const picked = changes.find((c) => c.type === 'select' && c.selected);
    if (picked && picked.type === 'select') setSelection({ kind: 'step', key: picked.id });
    setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type === 'position' || c.type === 'dimensions'), ns));
  };
  const onEdgesChange = (changes: EdgeChange[]) => {
    const picked = changes.find((c) => c.type === 'select' && c.selected);
    if (picked && picked.type === 'select') setSelection({ kind: 'edge', id: picked.id });
  };

  // A new edge on success; onto an edge already there, that edge selected as it is.
  const onConnect = (c: Connection) => {
    const next = connect(draft, c.source, c.target);
    if (next !== draft) change(next);
    setSelection({ kind: 'edge', id: `${c.source}>${c.target}` });
  };
  const ariaLabels = useMemo(() => flowAriaLabels(t, true), [t]);

  const add = () => {
    const { draft: next, key } = addStep(draft);
    change(next);
    setSelection({ kind: 'step', key });
  };

  const selectedEdge = selection?.kind === 'edge' ? draft.edges.findIndex((e) => edgeId(e) === selection.id) : -1;
  const stepIndex = selectedStep ? draft.steps.findIndex((s) => s.key === selectedStep) : -1;

  return (
    <div id={id} data-testid="workflow-editor">
      <Flex gap={8} align="center" wrap="wrap" style={{ marginBottom: 8 }}>
        <Button icon={<PlusOutlined />} onClick={add} data-testid="workflow-add-step">
          {t('workflow.addStep')}
        </Button>
        <Typography.Text type="secondary" style={{ flex: 1, minWidth: 200 }}>
          {t('workflow.help')}
        </Typography.Text>
      </Flex>
      <Flex gap={12} align="stretch" wrap="wrap">
        <div
          className="kairos-flow"
          style={{
            flex: '1 1 360px',
            minWidth: 0,
            height: CANVAS_HEIGHT,
            border: `1px solid ${token.colorBorderSecondary}`,
            borderRadius: token.borderRadius,
            position: 'relative',
          }}
        >
          <ReactFlow<StepNode>
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            colorMode={dark ? 'dark' : 'light'}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            isValidConnection={(c) => c.source !== c.target}
            onNodeClick={(_, node) => setSelection({ kind: 'step', key: node.id })}
            onNodeDragStart={(_, node) => setSelection({ kind: 'step', key: node.id })}
            onEdgeClick={(_, edge) => setSelection({ kind: 'edge', id: edge.id })}
            onPaneClick={() => setSelection(null)}
            // No delete key: xyflow listens for it on the whole page, so Backspace in any field
            // would delete the selected step. The panel's Delete buttons remove steps and edges.
            deleteKeyCode={null}
            ariaLabelConfig={ariaLabels}
            connectionLineStyle={{ stroke: EDGE_COLORS.succeeded, strokeWidth: 2 }}
            minZoom={0.2}
            zoomOnScroll={false}
            preventScrolling={false}
            fitView
            fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
          >
            <Background gap={16} />
            <Controls showInteractive={false} />
          </ReactFlow>
          {draft.steps.length === 0 && (
            <Flex align="center" justify="center" style={{ position: 'absolute', inset: 0, pointerEvents: 'none' }}>
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('workflow.empty')} />
            </Flex>
          )}
        </div>
        <div style={{ flex: '0 0 360px', maxWidth: '100%' }} data-testid="workflow-panel">
          {stepIndex >= 0 ? (
            <StepPanel
              key={selectedStep}
              draft={draft}
              stepKey={selectedStep!}
              self={self}
              onChange={change}
              onDeleted={() => setSelection(null)}
            />
          ) : selectedEdge >= 0 ? (
            <EdgePanel
              draft={draft}
              index={selectedEdge}
              onChange={change}
              onDeleted={() => setSelection(null)}
            />
          ) : (
            <Typography.Text type="secondary">{t('workflow.selectHint')}</Typography.Text>
          )}
        </div>
      </Flex>
    </div>
  );
}

/** Jobs a step may run (not workflows, not the job itself), matching what is typed. */
function useStepJobOptions(self: string | undefined, current: string | undefined) {
  const { options, onSearch } = useJobOptions(self, notWorkflow);
  // The chosen job stays listed whatever the search.
  const all = current && !options.some((o) => o.value === current) ? [{ value: current, label: current }, ...options] : options;
  return { options: all, onSearch };
}

/** A step runs a job that is not a workflow itself. */
const notWorkflow = (job: Job) => job.kind !== 'workflow';

type RunChoice = 'command' | 'http' | 'job';

/** The selected step's fields. Keyed by the step, so its local state starts afresh per step. */
function StepPanel({
  draft,
  stepKey,
  self,
  onChange,
  onDeleted,
}: {
  draft: WorkflowDraft;
  stepKey: string;
  self?: string;
  onChange: (draft: WorkflowDraft) => void;
  onDeleted: () => void;
}) {
  const t = useT();
  const { step } = draft.steps.find((s) => s.key === stepKey)!;
  const update = (next: Step) => onChange(setStep(draft, stepKey, next));
  const kind = stepRunKind(step);
  // What the step ran under each choice, so switching there and back loses nothing.
  const stash = useRef<Partial<Record<RunChoice, { action?: Action; job?: string }>>>({});
  const jobs = useStepJobOptions(self, step.job ?? undefined);
  const [afterFrom, setAfterFrom] = useState<string | undefined>(undefined);
  const [afterOn, setAfterOn] = useState<FollowOn>('succeeded');

  const idError = !step.id
    ? t('workflow.check.emptyId', { n: draft.steps.findIndex((s) => s.key === stepKey) + 1 })
    : !STEP_ID.test(step.id)
      ? t('workflow.check.badId', { id: step.id })
      : draft.steps.some((s) => s.key !== stepKey && s.step.id === step.id)
        ? t('workflow.check.duplicateId', { id: step.id })
        : null;

  const choose = (next: RunChoice) => {
    if (kind === 'command' || kind === 'http' || kind === 'job') stash.current[kind] = step.action ? { action: step.action } : { job: step.job ?? '' };
    update(withRunKind(step, next, stash.current[next]));
  };

  const idOf = new Map(draft.steps.map((s) => [s.key, s.step.id]));
  const incoming = draft.edges.map((e, index) => ({ e, index })).filter(({ e }) => e.to === stepKey);
  const candidates = draft.steps.filter((s) => s.key !== stepKey && !incoming.some(({ e }) => e.from === s.key));
  const onOptions = FOLLOW_ONS.map((on) => ({ value: on, label: t(`workflow.on.${on}`) }));
  const action = step.action;

  const setNumber = (field: 'timeout_s', v: number | null) => {
    const { [field]: _old, ...rest } = step;
    update(v == null ? rest : { ...rest, [field]: v });
  };
  const setRetries = (count: number | null) => {
    const { retries, ...rest } = step;
    // A count keeps the backoff and factor there were. No count means the job's retry policy,
    // all of it: the whole of `retries` goes, backoff and factor too.
    update(count == null ? rest : { ...rest, retries: { ...(retries ?? {}), count } });
  };

  return (
    <Flex vertical gap={0}>
      <Form.Item
        label={t('workflow.stepId')}
        validateStatus={idError ? 'error' : undefined}
        help={idError ?? t('workflow.stepIdHelp')}
        style={{ marginBottom: 12 }}
      >
        <Input
          value={step.id}
          onChange={(e) => update({ ...step, id: e.target.value })}
          spellCheck={false}
          maxLength={64}
          data-testid="workflow-step-id"
        />
      </Form.Item>
      <Form.Item label={t('workflow.runs')} style={{ marginBottom: 12 }}>
        {kind === 'command' || kind === 'http' || kind === 'job' ? (
          <Segmented<RunChoice>
            block
            value={kind}
            onChange={choose}
            options={[
              { value: 'command', label: t('workflow.run.command'), icon: <CodeOutlined /> },
              { value: 'http', label: t('workflow.run.http'), icon: <ApiOutlined /> },
              { value: 'job', label: t('workflow.run.job'), icon: <ProfileOutlined /> },
            ]}
            data-testid="workflow-step-kind"
          />
        ) : (
          <Alert type="info" showIcon message={t('workflow.runOther', { kind: t(`kind.${kind}`) })} />
        )}
      </Form.Item>
      {action?.kind === 'shell' && (
        <Form.Item label={t('action.command')} style={{ marginBottom: 12 }}>
          <Input.TextArea
            value={action.command}
            onChange={(e) => update({ ...step, action: { ...action, command: e.target.value } })}
            autoSize={{ minRows: 2, maxRows: 8 }}
            placeholder="echo hello"
            spellCheck={false}
            style={{ fontFamily: 'monospace' }}
            data-testid="workflow-step-command"
          />
        </Form.Item>
      )}
      {action?.kind === 'http' && (
        <Form.Item label={t('action.url')} style={{ marginBottom: 12 }}>
          <Space.Compact style={{ width: '100%' }}>
            <Select
              value={action.method ?? 'GET'}
              onChange={(method: string) => update({ ...step, action: { ...action, method } })}
              options={METHODS.map((m) => ({ value: m, label: m }))}
              style={{ width: 100 }}
              data-testid="workflow-step-method"
            />
            <Input
              value={action.url}
              onChange={(e) => update({ ...step, action: { ...action, url: e.target.value } })}
              placeholder="https://example.com/hook"
              spellCheck={false}
              data-testid="workflow-step-url"
            />
          </Space.Compact>
        </Form.Item>
      )}
      {kind === 'job' && (
        <Form.Item label={t('workflow.run.job')} help={t('workflow.jobHelp')} style={{ marginBottom: 12 }}>
          <Select
            showSearch
            filterOption={false}
            value={step.job || undefined}
            onSearch={jobs.onSearch}
            onChange={(job: string) => update({ ...step, job })}
            options={jobs.options}
            placeholder={t('workflow.pickJob')}
            data-testid="workflow-step-job"
          />
        </Form.Item>
      )}
      <Flex gap={8}>
        <Form.Item label={t('workflow.timeout')} style={{ flex: 1, marginBottom: 12 }}>
          <InputNumber
            value={step.timeout_s ?? null}
            onChange={(v) => setNumber('timeout_s', v)}
            min={1}
            addonAfter={t('unit.s')}
            placeholder={kind === 'job' ? t('workflow.jobsDefault') : t('workflow.noLimit')}
            style={{ width: '100%' }}
            data-testid="workflow-step-timeout"
          />
        </Form.Item>
        <Form.Item label={t('workflow.retries')} style={{ flex: 1, marginBottom: 12 }}>
          <InputNumber
            value={step.retries?.count ?? null}
            onChange={setRetries}
            min={0}
            max={100}
            placeholder={t('workflow.jobsDefault')}
            style={{ width: '100%' }}
            data-testid="workflow-step-retries"
          />
        </Form.Item>
      </Flex>
      <Form.Item label={t('workflow.after')} style={{ marginBottom: 12 }}>
        <Flex vertical gap={6} data-testid="workflow-after">
          {incoming.length === 0 && <Typography.Text type="secondary">{t('workflow.afterNone')}</Typography.Text>}
          {incoming.map(({ e, index }) => (
            <Flex key={e.from} gap={6} align="center" data-testid={`workflow-after-row-${idOf.get(e.from)}`}>
              <Typography.Text strong ellipsis style={{ flex: 1, minWidth: 0 }}>
                {idOf.get(e.from) || '—'}
              </Typography.Text>
              <Select
                size="small"
                value={e.on ?? 'succeeded'}
                onChange={(on: FollowOn) => onChange(setEdgeOn(draft, index, on))}
                options={onOptions}
                style={{ width: 130 }}
                aria-label={t('workflow.edgeRuns', { from: idOf.get(e.from) ?? '', to: step.id })}
              />
              <Button size="small" icon={<DeleteOutlined />} onClick={() => onChange(removeEdge(draft, index))} aria-label={t('common.remove')} />
            </Flex>
          ))}
          {candidates.length > 0 && (
            <Space.Compact style={{ width: '100%' }}>
              <Select
                value={afterFrom}
                onChange={(key: string) => setAfterFrom(key)}
                options={candidates.map((s) => ({ value: s.key, label: s.step.id || '—' }))}
                placeholder={t('workflow.afterStep')}
                style={{ flex: 1, minWidth: 0 }}
                data-testid="workflow-after-step"
              />
              <Select value={afterOn} onChange={(on: FollowOn) => setAfterOn(on)} options={onOptions} style={{ width: 130 }} data-testid="workflow-after-on" />
              <Button
                icon={<PlusOutlined />}
                disabled={!afterFrom}
                onClick={() => {
                  if (!afterFrom) return;
                  onChange(connect(draft, afterFrom, stepKey, afterOn));
                  setAfterFrom(undefined);
                }}
                data-testid="workflow-after-add"
              >
                {t('workflow.afterAdd')}
              </Button>
            </Space.Compact>
          )}
        </Flex>
      </Form.Item>
      <Button
        danger
        icon={<DeleteOutlined />}
        onClick={() => {
          onChange(removeStep(draft, stepKey));
          onDeleted();
        }}
        style={{ alignSelf: 'start' }}
        data-testid="workflow-delete-step"
      >
        {t('workflow.deleteStep')}
      </Button>
    </Flex>
  );
}

/** The selected edge: its condition, or its removal. */
function EdgePanel({
  draft,
  index,
  onChange,
  onDeleted,
}: {
  draft: WorkflowDraft;
  index: number;
  onChange: (draft: WorkflowDraft) => void;
  onDeleted: () => void;
}) {
  const t = useT();
  const edge = draft.edges[index];
  const idOf = new Map(draft.steps.map((s) => [s.key, s.step.id]));
  const from = idOf.get(edge.from) ?? '';
  const to = idOf.get(edge.to) ?? '';
  return (
    <Flex vertical gap={12} data-testid="workflow-edge-panel">
      <Typography.Text strong>{t('workflow.edgeRuns', { from, to })}</Typography.Text>
      <Segmented<FollowOn>
        block
        value={edge.on ?? 'succeeded'}
        onChange={(on) => onChange(setEdgeOn(draft, index, on))}
        options={FOLLOW_ONS.map((on) => ({
          value: on,
          label: <span style={{ color: EDGE_COLORS[on] }}>{t(`workflow.on.${on}`)}</span>,
        }))}
        data-testid="workflow-edge-on"
      />
      <Button
        danger
        icon={<DeleteOutlined />}
        onClick={() => {
          onChange(removeEdge(draft, index));
          onDeleted();
        }}
        style={{ alignSelf: 'start' }}
        data-testid="workflow-edge-delete"
      >
        {t('workflow.deleteEdge')}
      </Button>
    </Flex>
  );
}
