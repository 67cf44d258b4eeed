// What the workflow editor and a workflow run's graph share: the canvas's styles, how an
// edge shows its condition, and the handles edges attach to.

import '@xyflow/react/dist/style.css';
import { Handle, MarkerType, Position, type Edge as FlowEdge } from '@xyflow/react';
import type { FollowOn } from '../api/types';
import type { Translate } from '../i18n';

/** Each condition's colour: success green, failure red, always grey. */
export const EDGE_COLORS: Record<FollowOn, string> = {
  succeeded: '#52c41a',
  failed: '#ff4d4f',
  completed: '#8c8c8c',
};

/** The width of a step's node on both canvases (the layout leaves room for it). */
export const NODE_WIDTH = 180;

/** An edge drawn in its condition's colour, labelled with it. */
export function conditionEdge(
  id: string,
  source: string,
  target: string,
  on: FollowOn | undefined,
  t: Translate,
  options: { selected?: boolean; background: string },
): FlowEdge {
  const cond = on ?? 'succeeded';
  const color = EDGE_COLORS[cond];
  return {
    id,
    source,
    target,
    selected: options.selected,
    label: t(`workflow.on.${cond}`),
    labelStyle: { fill: color, fontWeight: 500, fontSize: 11 },
    labelBgStyle: { fill: options.background },
    labelBgPadding: [4, 2],
    labelBgBorderRadius: 4,
    style: { stroke: color, strokeWidth: options.selected ? 3 : 2 },
    markerEnd: { type: MarkerType.ArrowClosed, color, width: 16, height: 16 },
    interactionWidth: 16,
  };
}

/** The two ends of a step's node: edges come in on the left and leave on the right. */
export function StepHandles({ connectable }: { connectable: boolean }) {
  const style = connectable ? { width: 10, height: 10 } : { opacity: 0, pointerEvents: 'none' as const };
  return (
    <>
      <Handle type="target" position={Position.Left} isConnectable={connectable} style={style} />
      <Handle type="source" position={Position.Right} isConnectable={connectable} style={style} />
    </>
  );
}
