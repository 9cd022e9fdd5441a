// New addresses for a Service that holds none it may keep: exactly the requested ones
// (spec.loadBalancerIP, herald.dev/loadBalancerIPs) or none, with the reason; otherwise one per
// wanted family from the first pool that may give them (herald.dev/address-pool narrows it to
// one), joining a shared address where the sharing key allows. Pure over the books.
import { type Family, formatValue, parseAddress } from "./address.js";
import { type Holding, type Holdings, hasFree, type PoolState } from "./holdings.js";
import { poolFamilies, poolRefuses } from "./pool.js";
import { isBuggy } from "./range.js";
import { type Refusal, refusal } from "./reasons.js";
import { type ServiceRequest, wantedFamilies } from "./service.js";
import { shareable, sharingRefusal } from "./sharing.js";

export function assignRequested(books: Holdings, req: ServiceRequest): { refusal?: Refusal } {
  const allowed = wantedFamilies(req);
  const picks: { family: Family; value: bigint; text: string; state: PoolState }[] = [];
  for (const text of req.requestedAddresses) {
    const parsed = parseAddress(text);
    if (!parsed.ok) return { refusal: refusal("InvalidAddress", `requested address ${parsed.error}`) };
    const { family, value } = parsed.value;
    const canonical = formatValue(family, value);
    if (!allowed.includes(family)) {
      return {
        refusal: refusal(
          "WrongFamily",
          `${canonical} is ${family}, but the Service uses ${allowed.join(" and ")} (ipFamilies, ipFamilyPolicy)`,
        ),
      };
    }
    if (picks.some((p) => p.family === family)) {
      return { refusal: refusal("WrongFamily", `more than one ${family} address requested`) };
    }
    const home = books.homeOf(family, value, req.requestedPool);
    if (home === undefined) return { refusal: refusal("NotInAnyPool", `${canonical} is in no pool`) };
    const name = home.pool.name;
    if (req.requestedPool !== undefined && req.requestedPool !== name) {
      return {
        refusal: refusal(
          "NotInRequestedPool",
          `${canonical} is in pool ${name}, not in the requested pool ${req.requestedPool}`,
        ),
      };
    }
    const why = poolRefuses(home.pool, req);
    if (why !== "") return { refusal: notAllowed(name, req, why) };
    if (home.pool.avoidBuggyIPs && isBuggy(family, value)) {
      return {
        refusal: refusal("AvoidedAddress", `${canonical} ends in .0 or .255 and pool ${name} avoids those`),
      };
    }
    const held = books.byAddress.get(canonical);
    if (held !== undefined) {
      const conflict = sharingRefusal(books, held, req);
      if (conflict !== undefined) return { refusal: conflict };
    } else if (home.free === undefined) {
      return { refusal: refusal("PoolDisabled", `pool ${name} is disabled and hands out no new address`) };
    }
    picks.push({ family, value, text: canonical, state: home });
  }
  if (req.familyPolicy === "RequireDualStack" && picks.length < allowed.length) {
    return {
      refusal: refusal(
        "WrongFamily",
        `RequireDualStack needs one requested address of each family; got ${picks.map((p) => p.text).join(", ")}`,
      ),
    };
  }
  const poolNames = new Set(picks.map((p) => p.state.pool.name));
  if (poolNames.size > 1) {
    return {
      refusal: refusal("PoolMismatch", `requested addresses lie in pools ${[...poolNames].join(", ")}`),
    };
  }
  const holdings = picks.map(
    (p) => books.byAddress.get(p.text) ?? books.newHolding(p.family, p.value, p.state.pool.name, req),
  );
  books.commit(req, picks[0]?.state.pool.name ?? "", holdings);
  return {};
}

export function assignAuto(books: Holdings, req: ServiceRequest): { refusal?: Refusal } {
  let candidates: PoolState[];
  if (req.requestedPool !== undefined) {
    const state = books.pools.get(req.requestedPool);
    if (state === undefined) {
      return {
        refusal: refusal("PoolNotFound", `pool ${req.requestedPool} does not exist or is not valid`),
      };
    }
    const why = poolRefuses(state.pool, req);
    if (why !== "") return { refusal: notAllowed(state.pool.name, req, why) };
    if (state.free === undefined) {
      return {
        refusal: refusal("PoolDisabled", `pool ${state.pool.name} is disabled and hands out no new address`),
      };
    }
    candidates = [state];
  } else {
    candidates = books.ordered.filter(
      (s) => s.free !== undefined && s.pool.autoAssign && poolRefuses(s.pool, req) === "",
    );
    if (candidates.length === 0) {
      return {
        refusal: refusal("NoPoolAllowed", `no pool hands out addresses to ${req.key} automatically`),
      };
    }
  }
  const wanted = wantedFamilies(req);
  for (const state of candidates) {
    const holdings = takeFamilies(books, state, req, wanted);
    if (holdings !== undefined) {
      books.commit(req, state.pool.name, holdings);
      return {};
    }
  }
  if (wanted.length > 1 && req.familyPolicy === "PreferDualStack") {
    for (const family of wanted) {
      for (const state of candidates) {
        const holdings = takeFamilies(books, state, req, [family]);
        if (holdings !== undefined) {
          books.commit(req, state.pool.name, holdings);
          return {};
        }
      }
    }
  }
  const names = candidates.map((s) => s.pool.name).join(", ");
  if (wanted.length > 1 && !candidates.some((s) => poolFamilies(s.pool).length === 2)) {
    return {
      refusal: refusal("DualStackUnavailable", `no usable pool has both IPv4 and IPv6 (tried ${names})`),
    };
  }
  return { refusal: refusal("PoolExhausted", `no free ${wanted.join("+")} address in pool ${names}`) };
}

/** One address per family from one pool, joining a shared address where the key allows; all or nothing. */
export function takeFamilies(
  books: Holdings,
  state: PoolState,
  req: ServiceRequest,
  families: readonly Family[],
): Holding[] | undefined {
  const picks: { family: Family; shared?: Holding }[] = [];
  for (const family of families) {
    const shared = shareable(books, state, req, family);
    if (shared === undefined && !hasFree(state, family)) return undefined;
    picks.push(shared === undefined ? { family } : { family, shared });
  }
  return picks.map(({ family, shared }) => {
    if (shared !== undefined) return shared;
    const value = state.free?.get(family)?.takeLowest();
    if (value === undefined) throw new Error("free space vanished between check and take");
    return books.newHolding(family, value, state.pool.name, req);
  });
}

function notAllowed(pool: string, req: ServiceRequest, why: string): Refusal {
  const detail =
    why === "namespaceNotAllowed"
      ? `namespace ${req.namespace} is not allowed`
      : "the Service's labels do not match its serviceSelector";
  return refusal("PoolNotAllowed", `pool ${pool} may not be used by ${req.key}: ${detail}`);
}
