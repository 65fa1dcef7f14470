//! Raw SELECTs (no function calls): rows merged across series exactly as 1.x's heap merge
//! orders equal times, grouped, limited. The streaming path (`crate::query::stream`) shares the
//! compiled form.

use super::*;

/// A raw SELECT compiled for one measurement: what is read, which rows are kept, how rows of
/// equal time are ordered and what a row of the answer is. The buffered path
/// ([`raw_measurement`]) and the streaming one (`crate::query::stream`) share it.
pub(crate) struct RawCompiled {
    pub(super) exprs: Vec<CExpr>,
    /// Scanned columns `..selected` are the selected fields (a row needs a value in one).
    pub(super) selected: usize,
    pub(super) aux_exprs: Vec<CExpr>,
    pub(super) cond: Compiled,
    /// Scanned fields (the `fields` of a scan), in column order.
    pub scan: Vec<String>,
    /// With LIMIT, a series contributes at most this many rows to its group: the first ones, or
    /// the last ones when `.1` (ORDER BY time DESC).
    pub cap: Option<(usize, bool)>,
    /// Tag keys of the groups (GROUP BY), sorted.
    pub keys: Vec<String>,
}

impl RawCompiled {
    /// The tag predicate every row's series must satisfy (from the condition's tag terms).
    pub fn pred(&self) -> &TagPredicate {
        &self.cond.pred
    }

    /// The pre-filter a store may apply (every row [`RawCompiled::keep`] keeps passes it).
    pub fn where_fields(&self) -> &crate::backend::FieldCondition {
        &self.cond.fields
    }

    /// Whether a scanned row belongs to the answer: one of the selected fields has a value and
    /// the condition holds.
    pub fn keep(&self, tags: &Tags, t: i64, vals: &[Value]) -> bool {
        self.cond.keeps(self.selected, tags, t, vals)
    }

    /// The tie-break key of a row (see [`merge_less`]).
    pub fn key(&self, tags: &Tags, t: i64, vals: &[Value]) -> Vec<Value> {
        let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
        merge_key(&self.aux_exprs, &rc)
    }

    /// The answer's row: the time, then the selected expressions.
    pub fn row(&self, tags: &Tags, t: i64, vals: &[Value]) -> Vec<Value> {
        let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: false };
        let mut row = Vec::with_capacity(self.exprs.len() + 1);
        row.push(Value::Time(t));
        for e in &self.exprs {
            row.push(e.eval(&rc));
        }
        row
    }

    /// The group (GROUP BY tags) of a series.
    pub fn group(&self, tags: &Tags) -> Tags {
        group_of(&self.keys, tags)
    }
}

/// What a streamed raw SELECT needs of the statement, resolved as [`select`] resolves it (call
/// only for a statement [`select`] has accepted: errors are not worded for the client here).
pub(crate) struct RawPrep {
    /// Source measurements in name order.
    pub metas: Vec<MeasInfo>,
    pub fields: Vec<Field>,
    pub columns: Vec<String>,
    /// The condition without its time terms.
    pub rest: Option<Expr>,
    /// GROUP BY tags: the answer's series carry their group's tags.
    pub has_tag_dims: bool,
}

pub(crate) async fn raw_prepare(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<Option<RawPrep>> {
    let rest = match &sel.condition {
        Some(c) => cond::split_time(c, ctx.now)?.0,
        None => None,
    };
    let need_tags = sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Wildcard { .. } | Expr::Regex(_)))
        || sel.dimensions.iter().any(|d| matches!(d, Dimension::Regex(_) | Dimension::Wildcard));
    let metas = resolve_sources(backend, ctx, sel, need_tags).await?;
    let fields = expand_fields(&sel.fields, &metas, &sel.dimensions);
    let (time_name, out_fields) = split_time_column(fields);
    if out_fields.is_empty() {
        return Ok(None);
    }
    let columns = column_names(&time_name, &out_fields);
    let has_tag_dims = sel.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    Ok(Some(RawPrep { metas, fields: out_fields, columns, rest, has_tag_dims }))
}

/// [`compile_raw`] for one measurement of a [`RawPrep`].
pub(crate) fn raw_compile(prep: &RawPrep, sel: &Select, m: &MeasInfo) -> QResult<Option<RawCompiled>> {
    compile_raw(sel, m, &prep.fields, prep.rest.as_ref(), &group_keys(&sel.dimensions, m))
}

/// Compiles a raw SELECT for `m`; `None` when it selects no field (no rows).
pub(super) fn compile_raw(sel: &Select, m: &MeasInfo, fields: &[Field], rest: Option<&Expr>, keys: &[String]) -> QResult<Option<RawCompiled>> {
    let mut scan: Vec<String> = Vec::new();
    let mut exprs = Vec::new();
    for f in fields {
        exprs.push(compile_row(&f.expr, m, &mut scan, false)?);
    }
    // Rows count when one of the selected fields has a value: the fields scanned so far.
    if scan.is_empty() {
        return Ok(None);
    }
    let selected = scan.len();
    // 1.x breaks ties between points of equal time by the string values of the selected
    // fields and tags, in the order of their names (see `merge`).
    let mut aux_names: Vec<(String, Option<VarHint>)> = Vec::new();
    for f in fields {
        collect_vars(&f.expr, &mut aux_names);
    }
    aux_names.sort_by(|a, b| a.0.cmp(&b.0));
    aux_names.dedup_by(|a, b| a.0 == b.0);
    let mut aux_exprs = Vec::new();
    for (n, h) in &aux_names {
        aux_exprs.push(compile_row(&Expr::Var { name: n.clone(), hint: *h }, m, &mut scan, true)?);
    }
    let cond = compile_condition(m, rest, &mut scan)?;
    let cap = if raw_limit(sel) > 0 && m.sub.is_none() {
        Some(((raw_limit(sel).saturating_add(sel.offset)).min(usize::MAX as u64) as usize, sel.order_desc))
    } else {
        None
    };
    Ok(Some(RawCompiled { exprs, selected, aux_exprs, cond, scan, cap, keys: keys.to_vec() }))
}

/// The rows of a raw subquery as 1.x hands them to its raw outer statement `outer` (see
/// `merged_subquery`): per measurement (in name order, reversed under DESC), merged by the
/// outer groups, then time, then tie-break keys, in the outer statement's time order; each run
/// of rows of one group of the subquery's own and the outer tags is a series.
#[allow(clippy::too_many_arguments)]
pub(super) async fn raw_merged(
    backend: &dyn Backend,
    gov: &Governor,
    sel: &Select,
    outer: &Select,
    metas: &[MeasInfo],
    fields: &[Field],
    columns: &[String],
    rest: Option<&Expr>,
    tr: TimeRange,
) -> QResult<Vec<Series>> {
    let mut sel = sel.clone();
    sel.order_desc = outer.order_desc;
    let mut budget = MAX_CELLS;
    let mut per_measurement = Vec::new();
    let outer_keys = outer_group_keys(&sel, outer);
    for m in metas {
        let mut keys = group_keys(&sel.dimensions, m);
        keys.extend(outer_keys.iter().filter(|k| !keys.contains(k)).cloned().collect::<Vec<_>>());
        keys.sort();
        per_measurement.push(raw_measurement(backend, gov, &sel, m, fields, columns, rest, tr, &keys, Some(&outer_keys), &mut budget).await?);
    }
    if sel.order_desc {
        per_measurement.reverse();
    }
    Ok(per_measurement.into_iter().flatten().collect())
}

/// The tag keys of the outer statement's groups, sorted, as 1.x propagates them into a
/// subquery `sel`: the outer `GROUP BY *` or regex reaches the subquery's own GROUP BY tags only
/// (1.x expands it against the subquery's dimensions).
pub(super) fn outer_group_keys(sel: &Select, outer: &Select) -> Vec<String> {
    let own: Vec<&String> = sel.dimensions.iter().filter_map(|d| if let Dimension::Tag(k) = d { Some(k) } else { None }).collect();
    let mut outer_keys: Vec<String> = Vec::new();
    for d in &outer.dimensions {
        match d {
            Dimension::Tag(k) => outer_keys.push(k.clone()),
            Dimension::Regex(re) => outer_keys.extend(own.iter().filter(|k| re.is_match(k)).map(|k| k.to_string())),
            Dimension::Wildcard => outer_keys.extend(own.iter().map(|k| k.to_string())),
            Dimension::Time { .. } => {}
        }
    }
    outer_keys.sort();
    outer_keys.dedup();
    outer_keys
}

/// An aggregate subquery's answer (series in ascending order, rows in time order) as the stream
/// 1.x's outer statement reads: its call iterators merged by measurement, the outer groups
/// (`outer_keys`), then window (each row's time when `windowed`, its GROUP BY time; else one
/// window, whatever time a selector shows), in the outer time order, series order kept among
/// equals; a series per run of rows of one series.
pub(super) fn window_stream(series: Vec<Series>, outer_keys: &[String], windowed: bool, desc: bool) -> Vec<Series> {
    // Each series' rank among the (measurement, outer group) pairs.
    let pairs: BTreeSet<(String, Tags)> = series.iter().map(|s| (s.name.clone(), group_of(outer_keys, &s.tags))).collect();
    let rank_of = |s: &Series| pairs.range(..(s.name.clone(), group_of(outer_keys, &s.tags))).count();
    let mut rows: Vec<(usize, usize, i64, Vec<Value>)> = Vec::new();
    let mut heads: Vec<Series> = Vec::with_capacity(series.len());
    for (si, mut s) in series.into_iter().enumerate() {
        let rank = rank_of(&s);
        for row in std::mem::take(&mut s.values) {
            let t = match row.first() {
                Some(Value::Time(t)) | Some(Value::Integer(t)) if windowed => *t,
                _ => 0,
            };
            rows.push((si, rank, t, row));
        }
        heads.push(s);
    }
    // Stable: equal keys keep the series order.
    rows.sort_by(|a, b| if desc { (b.1, b.2).cmp(&(a.1, a.2)) } else { (a.1, a.2).cmp(&(b.1, b.2)) });
    let mut out: Vec<Series> = Vec::new();
    let mut last = usize::MAX;
    for (si, _, _, row) in rows {
        if si != last {
            let h = &heads[si];
            out.push(Series { name: h.name.clone(), tags: h.tags.clone(), columns: h.columns.clone(), values: Vec::new(), partial: false });
            last = si;
        }
        if let Some(s) = out.last_mut() {
            s.values.push(row);
        }
    }
    out
}

/// A raw SELECT over one measurement. `merge`: the outer statement's group keys when this is a
/// subquery merged for it ([`raw_merged`]); the answer is then a series per run of rows.
#[allow(clippy::too_many_arguments)]
pub(super) async fn raw_measurement(
    backend: &dyn Backend,
    gov: &Governor,
    sel: &Select,
    m: &MeasInfo,
    fields: &[Field],
    columns: &[String],
    rest: Option<&Expr>,
    tr: TimeRange,
    keys: &[String],
    merge: Option<&[String]>,
    budget: &mut usize,
) -> QResult<Vec<Series>> {
    let Some(rc) = compile_raw(sel, m, fields, rest, keys)? else { return Ok(vec![]) };
    let keep = |tags: &Tags, t: i64, vals: &[Value]| -> bool { rc.keep(tags, t, vals) };
    let opts = LoadOpts { filter: Some(&keep), cap: rc.cap, where_fields: Some(&rc.cond.fields) };
    let (data, _loaded) = load(backend, m, &rc.scan, rc.pred(), tr.min_or(), tr.max_or(), budget, gov, opts).await?;

    // Per series: the rows, with their group and tie-break keys.
    let mut items_mem = govern::Tally::new(gov)?;
    let mut inputs: Vec<(Tags, String, Vec<MergeItem>)> = Vec::new();
    for (si, sd) in data.iter().enumerate() {
        let mut items = Vec::with_capacity(sd.times.len());
        for (j, &t) in sd.times.iter().enumerate() {
            let it = MergeItem { time: t, si, j, key: rc.key(&sd.tags, t, sd.row(j)) };
            items_mem.add(it.bytes())?;
            items.push(it);
        }
        // A subquery's rows already come in the outer statement's order when it merged them.
        if sel.order_desc && !m.sub_ordered {
            items.reverse();
        }
        if !items.is_empty() {
            inputs.push((rc.group(&sd.tags), crate::model::series_key(&m.name, &sd.tags), items));
        }
    }
    // The merges below build one vector of (input, item) beside the inputs' vectors.
    let total: usize = inputs.iter().map(|i| i.2.len()).sum();
    items_mem.add(govern::heap_bytes(total * std::mem::size_of::<(usize, MergeItem)>()))?;
    let _items_mem = items_mem.settle()?;
    let desc = sel.order_desc;
    let (groups_of, merged) = if m.sub.is_some() {
        sub_order(inputs, desc, m.sub_ordered, &|si| data[si].src)
    } else if let Some(outer_keys) = merge {
        outer_merge(inputs, outer_keys, desc)
    } else {
        heap_merge(inputs, desc)
    };

    // The answer's rows are charged as they are made and held until the query ends.
    let mut rows_mem = govern::Tally::new(gov)?;
    let mut out: Vec<Series> = Vec::new();
    let mut cur: Option<(Tags, Vec<Vec<Value>>)> = None;
    for (n, (input, it)) in merged.into_iter().enumerate() {
        if n % 4096 == 0 {
            gov.check()?;
        }
        let g = &groups_of[input];
        if cur.as_ref().map(|c| &c.0 != g).unwrap_or(true) {
            if let Some((gt, rows)) = cur.take() {
                push_raw_series(&mut out, sel, m, gt, columns, rows);
            }
            cur = Some((g.clone(), Vec::new()));
        }
        let sd = &data[it.si];
        let row = rc.row(&sd.tags, it.time, sd.row(it.j));
        rows_mem.add(govern::rows_bytes(std::slice::from_ref(&row)))?;
        if let Some(c) = cur.as_mut() {
            c.1.push(row);
        }
    }
    if let Some((gt, rows)) = cur.take() {
        push_raw_series(&mut out, sel, m, gt, columns, rows);
    }
    let answer = out.iter().map(series_bytes).sum();
    let mut rows_mem = rows_mem.settle()?;
    rows_mem.grow_to(answer)?;
    rows_mem.keep(answer);
    Ok(out)
}

type Inputs = Vec<(Tags, String, Vec<MergeItem>)>;
type Merged = (Vec<Tags>, Vec<(usize, MergeItem)>);

/// The rows of subquery sources. 1.x reads a subquery's answer as one stream: series after
/// series, or, `ordered` (see `raw_merged`), in the order it came in; its rows are not merged
/// by time again, only split into the outer statement's groups (a stable sort). Ordered streams
/// of several subqueries (`src_of` a series) are merged by a heap, as 1.x merges its sources.
fn sub_order(mut inputs: Inputs, desc: bool, ordered: bool, src_of: &dyn Fn(usize) -> usize) -> Merged {
    let mut flat: Vec<(Tags, MergeItem)> = if ordered {
        let mut group_of_si: BTreeMap<usize, Tags> = BTreeMap::new();
        let mut streams: BTreeMap<usize, Vec<MergeItem>> = BTreeMap::new();
        for (g, _, items) in inputs {
            for it in items {
                group_of_si.entry(it.si).or_insert_with(|| g.clone());
                streams.entry(src_of(it.si)).or_default().push(it);
            }
        }
        let group = |it: &MergeItem| &group_of_si[&it.si];
        let merged = merge(streams.into_values().collect(), &|x: &(usize, &MergeItem), y: &(usize, &MergeItem)| {
            let (gx, gy) = (group(x.1), group(y.1));
            if gx != gy {
                return if desc { gx > gy } else { gx < gy };
            }
            merge_less(x.1, y.1, desc)
        });
        merged.into_iter().map(|(_, it)| (group(&it).clone(), it)).collect()
    } else {
        inputs.sort_by(|a, b| a.0.cmp(&b.0));
        if desc {
            inputs.reverse();
        }
        inputs.into_iter().flat_map(|(g, _, items)| items.into_iter().map(move |it| (g.clone(), it))).collect()
    };
    flat.sort_by(|a, b| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
    flat.into_iter().enumerate().map(|(i, (g, it))| (g, (i, it))).unzip()
}

/// 1.x's merge of a raw SELECT's series: one heap over all of them, by group, time and
/// tie-break keys.
fn heap_merge(mut inputs: Inputs, desc: bool) -> Merged {
    inputs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    if desc {
        inputs.reverse();
    }
    let groups_of: Vec<Tags> = inputs.iter().map(|i| i.0.clone()).collect();
    let merged = merge(inputs.into_iter().map(|i| i.2).collect(), &|x: &(usize, &MergeItem), y: &(usize, &MergeItem)| {
        let (gx, gy) = (&groups_of[x.0], &groups_of[y.0]);
        if gx != gy {
            return if desc { gx > gy } else { gx < gy };
        }
        merge_less(x.1, y.1, desc)
    });
    (groups_of, merged)
}

/// 1.x's merge for a subquery read by its outer statement (`raw_merged`): its engine makes the
/// tag sets of the outer grouping (`outer_keys`) and merges the series of each by a heap (time,
/// then tie-break keys), then the tag sets by another (outer group first, so one after the
/// other). Each item keeps the group of its own tags (`inputs`' groups) for the answer.
fn outer_merge(mut inputs: Inputs, outer_keys: &[String], desc: bool) -> Merged {
    let outer = |g: &Tags| group_of(outer_keys, g);
    inputs.sort_by(|a, b| outer(&a.0).cmp(&outer(&b.0)).then_with(|| a.1.cmp(&b.1)));
    if desc {
        inputs.reverse();
    }
    let mut groups_of: Vec<Tags> = Vec::new();
    let mut merged: Vec<(usize, MergeItem)> = Vec::new();
    let mut rest = inputs.into_iter().peekable();
    while let Some(first) = rest.next() {
        let set = outer(&first.0);
        let mut series = vec![first];
        while let Some(next) = rest.next_if(|n| outer(&n.0) == set) {
            series.push(next);
        }
        let base = groups_of.len();
        groups_of.extend(series.iter().map(|s| s.0.clone()));
        let items = series.into_iter().map(|s| s.2).collect();
        merged.extend(merge(items, &|x, y| merge_less(x.1, y.1, desc)).into_iter().map(|(i, it)| (base + i, it)));
    }
    (groups_of, merged)
}

/// 1.6.7 answers a raw `OFFSET n` without `LIMIT` with the one row at the offset.
pub(super) fn raw_limit(sel: &Select) -> u64 {
    limits::raw_row_limit(sel.limit, sel.offset)
}

pub(super) fn push_raw_series(out: &mut Vec<Series>, sel: &Select, m: &MeasInfo, tags: Tags, columns: &[String], rows: Vec<Vec<Value>>) {
    let rows = limits::apply(rows, raw_limit(sel), sel.offset);
    if !rows.is_empty() {
        out.push(Series { name: m.name.clone(), tags, columns: columns.to_vec(), values: rows, partial: false });
    }
}

pub(super) struct MergeItem {
    pub(super) time: i64,
    pub(super) si: usize,
    pub(super) j: usize,
    pub(super) key: Vec<Value>,
}

impl MergeItem {
    /// Bytes the item holds in a vector, its key included.
    pub(super) fn bytes(&self) -> u64 {
        let key = if self.key.is_empty() { 0 } else { govern::heap_bytes(self.key.capacity() * std::mem::size_of::<Value>()) };
        std::mem::size_of::<MergeItem>() as u64 + key + self.key.iter().map(govern::value_bytes).sum::<u64>()
    }
}

/// A point's tie-break key (see [`point_less`]): the values of `exprs`, or none when the first is
/// not a string, as the comparison then ends at once whatever the other point's key is (so a
/// numeric select keeps no key per point).
pub(super) fn merge_key(exprs: &[CExpr], rc: &RowCtx) -> Vec<Value> {
    let mut it = exprs.iter();
    let first = match it.next().map(|e| e.eval(rc)) {
        Some(v @ Value::String(_)) => v,
        _ => return Vec::new(),
    };
    let mut key = Vec::with_capacity(exprs.len());
    key.push(first);
    key.extend(it.map(|e| e.eval(rc)));
    key
}

/// 1.x's ordering of raw points: by time, then by the selected string values in name order
/// (the first non-string value ends the comparison as "not less").
pub(super) fn merge_less(x: &MergeItem, y: &MergeItem, desc: bool) -> bool {
    point_less(x.time, &x.key, y.time, &y.key, desc)
}

/// [`merge_less`] over a point's time and tie-break key.
pub(crate) fn point_less(xt: i64, xk: &[Value], yt: i64, yk: &[Value], desc: bool) -> bool {
    if xt != yt {
        return if desc { xt > yt } else { xt < yt };
    }
    if !xk.is_empty() && xk.len() == yk.len() {
        for (a, b) in xk.iter().zip(yk.iter()) {
            match (a, b) {
                (Value::String(a), Value::String(b)) => {
                    if a == b {
                        continue;
                    }
                    return if desc { a > b } else { a < b };
                }
                _ => return false,
            }
        }
    }
    false
}

/// Merges time-ordered inputs exactly as Go's `container/heap` driven merge of 1.x does, so that
/// points that compare equal come out in the same order as 1.x gives them.
pub(super) fn merge(
    inputs: Vec<Vec<MergeItem>>,
    less: &dyn Fn(&(usize, &MergeItem), &(usize, &MergeItem)) -> bool,
) -> Vec<(usize, MergeItem)> {
    let total: usize = inputs.iter().map(|v| v.len()).sum();
    let mut out = Vec::with_capacity(total);
    out.extend(merge_iter(inputs, less));
    out
}

/// [`merge`] as an iterator, for a caller that consumes the points one by one.
pub(super) fn merge_iter<'a>(
    inputs: Vec<Vec<MergeItem>>,
    less: &'a dyn Fn(&(usize, &MergeItem), &(usize, &MergeItem)) -> bool,
) -> impl Iterator<Item = (usize, MergeItem)> + 'a {
    let mut iters: Vec<std::vec::IntoIter<MergeItem>> = inputs.into_iter().map(|v| v.into_iter()).collect();
    let firsts: Vec<(usize, MergeItem)> = iters.iter_mut().enumerate().filter_map(|(i, it)| it.next().map(|x| (i, x))).collect();
    let mut h = GoHeap::new(firsts, less);
    std::iter::from_fn(move || {
        let (input, item) = h.pop(less)?;
        if let Some(next) = iters[input].next() {
            h.push(input, next, less);
        }
        Some((input, item))
    })
}
