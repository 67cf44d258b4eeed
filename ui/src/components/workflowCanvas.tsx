// What the workflow editor and a workflow run's graph share: the canvas's styles, how an
// edge shows its condition, the canvas's labels, and the handles edges attach to.

import '@xyflow/react/dist/style.css';
import { Handle, MarkerType, Position, type Edge as FlowEdge, type ReactFlowProps } from '@xyflow/react';
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

/** The canvas's own labels (its controls' titles, what a screen reader hears on a focused step
 * or edge) in `t`'s language. `editable`: the editor's canvas, whose steps and edges are
 * selected with the keyboard (the run graph's are not). */
export function flowAriaLabels(t: Translate, editable: boolean): ReactFlowProps['ariaLabelConfig'] {
  return {
    'controls.ariaLabel': t('workflow.flow.controls'),
    'controls.zoomIn.ariaLabel': t('workflow.flow.zoomIn'),
    'controls.zoomOut.ariaLabel': t('workflow.flow.zoomOut'),
    'controls.fitView.ariaLabel': t('workflow.flow.fitView'),
    'controls.interactive.ariaLabel': t('workflow.flow.interactive'),
    ...(editable
      ? {
          // xyflow reads the first when keyboard access is off, the second when on: the same here.
          'node.a11yDescription.default': t('workflow.flow.nodeHelp'),
          'node.a11yDescription.keyboardDisabled': t('workflow.flow.nodeHelp'),
          'node.a11yDescription.ariaLiveMessage': ({ x, y }: { direction: string; x: number; y: number }) => t('workflow.flow.moved', { x, y }),
          'edge.a11yDescription.default': t('workflow.flow.edgeHelp'),
        }
      : {}),
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
