// A small, strict XML reader for tests: it refuses what XML 1.0 refuses in the documents Herald
// writes (mismatched or unclosed tags, a raw < or & in text or attributes, unknown entities,
// duplicate attributes, forbidden control characters, text or a second element beside the root)
// and gives back the element tree with entities decoded, so a test can query the picture. No
// DTDs, CDATA or processing instructions past the prolog: Herald writes none.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (not its children's), decoded. */
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML 1.0 forbids
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const ENTITY = /^&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  if (raw.includes("<")) throw new Error(`a raw "<" near offset ${where}`);
  const bad = FORBIDDEN.exec(raw);
  if (bad !== null)
    throw new Error(`a forbidden character U+${bad[0].charCodeAt(0).toString(16)} near ${where}`);
  let out = "";
  let i = 0;
  for (;;) {
    const j = raw.indexOf("&", i);
    if (j < 0) return out + raw.slice(i);
    const m = ENTITY.exec(raw.slice(j, j + 12));
    if (m === null) throw new Error(`a raw "&" near offset ${where + j}`);
    const body = m[1] as string;
    out +=
      raw.slice(i, j) +
      (body.startsWith("#x")
        ? String.fromCodePoint(Number.parseInt(body.slice(2), 16))
        : body.startsWith("#")
          ? String.fromCodePoint(Number.parseInt(body.slice(1), 10))
          : (NAMED[body] as string));
    i = j + m[0].length;
  }
}

/** The root element of `s`, or an Error saying where `s` is not well-formed. */
export function parseXml(s: string): XmlElement {
  const doc: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [doc];
  let i = 0;
  if (s.startsWith("<?xml")) {
    const end = s.indexOf("?>");
    if (end < 0) throw new Error("an unclosed XML declaration");
    i = end + 2;
  }
  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const raw = s.slice(i, lt < 0 ? s.length : lt);
    const top = stack[stack.length - 1] as XmlElement;
    if (top === doc) {
      if (raw.trim() !== "") throw new Error(`text outside the root element near offset ${i}`);
    } else top.text += decode(raw, i);
    if (lt < 0) break;
    if (s.startsWith("<!--", lt)) {
      const end = s.indexOf("-->", lt + 4);
      if (end < 0) throw new Error(`an unclosed comment at ${lt}`);
      i = end + 3;
      continue;
    }
    if (s.startsWith("</", lt)) {
      const gt = s.indexOf(">", lt);
      const name = s.slice(lt + 2, gt < 0 ? s.length : gt).trim();
      const open = stack.pop();
      if (gt < 0 || open === undefined || open === doc || open.name !== name) {
        throw new Error(`</${name}> at ${lt} does not close <${open?.name}>`);
      }
      i = gt + 1;
      continue;
    }
    let j = lt + 1;
    const name = NAME.exec(s.slice(j, j + 200))?.[0];
    if (name === undefined) throw new Error(`a "<" that starts no tag at ${lt}`);
    j += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: "" };
    let selfClosing = false;
    for (;;) {
      const ws = /^\s*/.exec(s.slice(j, j + 200))?.[0].length ?? 0;
      j += ws;
      if (s.startsWith("/>", j)) {
        selfClosing = true;
        j += 2;
        break;
      }
      if (s[j] === ">") {
        j += 1;
        break;
      }
      const attr = NAME.exec(s.slice(j, j + 200))?.[0];
      if (ws === 0 || attr === undefined) throw new Error(`a malformed attribute in <${name}> at ${j}`);
      j += attr.length;
      const quote = /^\s*=\s*(["'])/.exec(s.slice(j, j + 20));
      if (quote === null) throw new Error(`attribute ${attr} of <${name}> at ${j} has no quoted value`);
      j += quote[0].length;
      const end = s.indexOf(quote[1] as string, j);
      if (end < 0) throw new Error(`an unclosed value of ${attr} at ${j}`);
      if (attr in el.attrs) throw new Error(`attribute ${attr} twice in <${name}> at ${j}`);
      el.attrs[attr] = decode(s.slice(j, end), j);
      j = end + 1;
    }
    if (top === doc && doc.children.length > 0) throw new Error(`a second root element <${name}> at ${lt}`);
    top.children.push(el);
    if (!selfClosing) stack.push(el);
    i = j;
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]?.name}> is never closed`);
  const root = doc.children[0];
  if (root === undefined) throw new Error("no root element");
  return root;
}

/** Every element under `el` (itself included), depth first, that `match` accepts. */
export function findAll(el: XmlElement, match: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (match(e)) out.push(e);
    for (const c of e.children) walk(c);
  };
  walk(el);
  return out;
}

/** The text a reader sees in `el`: its own and its children's, without tooltips (<title>). */
export function visibleText(el: XmlElement): string {
  return el.text + el.children.map((c) => (c.name === "title" ? "" : visibleText(c))).join("");
}

/** The tooltip of `el`: its <title> child's text. */
export function tooltip(el: XmlElement): string | undefined {
  return el.children.find((c) => c.name === "title")?.text;
}
