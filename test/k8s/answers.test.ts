// The process-wide "the API server answers" signal and the client that raises it.
import { AnswerSignal, announcingAnswers } from "../../src/k8s/answers.js";
import type { Rest } from "../../src/k8s/rest.js";

test("an answer wakes every waiter once; an aborted waiter is let go without one", async () => {
  const answers = new AnswerSignal();
  const woken: string[] = [];
  const a = answers.next(new AbortController().signal).then(() => woken.push("a"));
  const b = answers.next(new AbortController().signal).then(() => woken.push("b"));
  const gone = new AbortController();
  const c = answers.next(gone.signal).then(() => woken.push("c (aborted)"));
  gone.abort();
  await c;
  expect(answers.waiting).toBe(2);
  answers.answered();
  await Promise.all([a, b]);
  expect(woken.sort()).toEqual(["a", "b", "c (aborted)"]);
  expect(answers.waiting).toBe(0);
});

test("a request that succeeds is an answer; one that fails is not", async () => {
  let fail = true;
  const raw: Rest = {
    async request<T>(): Promise<T> {
      if (fail) throw new Error("connect ECONNREFUSED");
      return { ok: true } as T;
    },
    watch: async () => {},
  };
  const answers = new AnswerSignal();
  const rest = announcingAnswers(raw, answers);
  let answered = 0;
  const count = async () => {
    await answers.next(new AbortController().signal);
    answered++;
  };
  const first = count();
  await expect(rest.request("GET", "/version")).rejects.toThrow("ECONNREFUSED");
  await Promise.resolve();
  expect(answered).toBe(0);
  fail = false;
  await expect(rest.request("GET", "/version")).resolves.toEqual({ ok: true });
  await first;
  expect(answered).toBe(1);
});
