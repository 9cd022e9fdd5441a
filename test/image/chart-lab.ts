// A lab with Herald installed from its chart and run from its image: the chart's objects in the
// API server, the controller replicas and a speaker per node as containers (test/lab/containers.ts).
// It has the shape of the host-process HeraldLab (test/speaker/lab-speaker.ts), so the suites
// and bench:failover run against either.
import { apiOf, eventually } from "../controller/lab-controller.js";
import { builtImage, type ChartInstall, type ChartPod, installChart } from "../lab/containers.js";
import { tryExec } from "../lab/exec.js";
import { startLab } from "../lab/fixture.js";
import type { LabProcess } from "../lab/process.js";
import { type HeraldLab, macOf, serviceProbes, speakerState } from "../speaker/lab-speaker.js";

/** The chart's pool and L2Advertisement, on the lab's LAN (as startHeraldLab makes them). */
export const CHART_POOL = "192.0.2.200-192.0.2.209";
/** The pool's IPv6 range, on a dual-stack lab. */
export const CHART_POOL_V6 = "2001:db8::200-2001:db8::209";

export interface ChartLab extends HeraldLab {
  chart: ChartInstall;
  controllers: ChartPod[];
  /** The speaker Pods by node (their processes are also in `speakers`). */
  speakerPods: Map<string, ChartPod>;
  /** The controller replica that leads, by its state over its Pod's loopback. */
  leader(): Promise<ChartPod | undefined>;
  /** Stops the containers and the lab. */
  stop(): Promise<void>;
}

export async function startChartLab(
  nodeCount: number,
  options: { dualStack?: boolean } = {},
): Promise<ChartLab> {
  const image = builtImage();
  const dualStack = options.dualStack === true;
  const lab = await startLab({ nodes: nodeCount, dualStack });
  const ranges = dualStack ? `'${CHART_POOL}', '${CHART_POOL_V6}'` : `'${CHART_POOL}'`;
  try {
    const chart = await installChart(lab, {
      image,
      values: [
        `pools: [{name: lan, spec: {addresses: [${ranges}]}}]`,
        "l2Advertisements: [{name: lan, spec: {ipAddressPools: [lan]}}]",
        "",
      ].join("\n"),
    });
    const api = apiOf(lab);
    const nodes = lab.nodes.map((n) => n.name);
    const macs = new Map<string, string>();
    for (const node of nodes) macs.set(node, await macOf(lab, node));
    const speakers = new Map<string, LabProcess>();
    const speakerPods = new Map<string, ChartPod>();
    const controllers: ChartPod[] = [];
    const h: ChartLab = {
      lab,
      api,
      keyFile: "",
      nodes,
      macs,
      speakers,
      speakerPods,
      chart,
      controllers,
      async ensureSpeaker(node) {
        if (speakers.get(node)?.running()) return;
        const pod = await chart.startSpeaker(node);
        speakerPods.set(node, pod);
        speakers.set(node, pod.process);
        await eventually(
          `speaker on ${node} serving its state`,
          async () => (await speakerState(lab, node)).node === node,
          30_000,
        );
      },
      ...serviceProbes(lab, api, macs),
      async leader() {
        for (const c of controllers) {
          const r = await tryExec("ip", [
            "netns",
            "exec",
            c.netns,
            "curl",
            "-sf",
            "--max-time",
            "2",
            "http://127.0.0.1:7472/debug/state",
          ]);
          const state = r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
          if (state?.leader === true && state.ready === true) return c;
        }
        return undefined;
      },
      async stop() {
        await chart.stop();
        await lab.stop();
      },
    };
    controllers.push(...(await chart.startControllers()));
    await eventually("a controller replica leading", () => h.leader(), 60_000);
    for (const node of nodes) await h.ensureSpeaker(node);
    return h;
  } catch (e) {
    await lab.stop();
    throw e;
  }
}
