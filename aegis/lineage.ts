import type { AuditRecord } from './types';

export interface LineageNode {
  harnessId: string;
  round: number;
  editKey: string | null;
  children: LineageNode[];
  /** Candidates tried on this harness and not shipped, with why. */
  rejected: Array<{ round: number; candidateId: string; editKey: string; reason: string }>;
}

/** The tree of harness versions of a run, from its audit log: ships are edges, rejections are leaves. */
export function buildLineage(records: AuditRecord[]): LineageNode | null {
  const setup = records.find((r) => r.stage === 'setup');
  if (!setup?.harnessId) return null;
  const root: LineageNode = { harnessId: setup.harnessId, round: 0, editKey: null, children: [], rejected: [] };
  const nodes = new Map([[root.harnessId, root]]);
  let current = root;
  for (const r of records) {
    const p = r.payload as Record<string, unknown>;
    if (r.stage === 'ship' && r.harnessId) {
      const parent = nodes.get(String(p.from)) ?? current;
      const node: LineageNode = { harnessId: r.harnessId, round: r.round, editKey: String(p.editKey ?? ''), children: [], rejected: [] };
      parent.children.push(node);
      nodes.set(node.harnessId, node);
      current = node;
    } else if (r.stage === 'gate' && r.kind === 'rollback') {
      current.rejected.push({ round: r.round, candidateId: r.candidateId ?? '', editKey: String(p.editKey ?? ''), reason: String(p.reason ?? '') });
    }
  }
  return root;
}

export function formatLineage(node: LineageNode, indent = ''): string {
  const head = `${indent}${node.harnessId}${node.editKey ? `  ← round ${node.round}: ${node.editKey}` : '  (seed)'}`;
  const rejected = node.rejected.map((r) => `${indent}  ✗ round ${r.round} ${r.candidateId}: ${r.editKey} — ${r.reason}`);
  return [head, ...rejected, ...node.children.map((c) => formatLineage(c, indent + '  '))].join('\n');
}
