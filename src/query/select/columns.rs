//! Column names of an answer, as 1.x names them.

use super::*;

pub(super) fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Call { name, .. } => name.clone(),
        Expr::Var { name, .. } => name.clone(),
        Expr::Paren(x) => expr_name(x),
        Expr::Binary { .. } => {
            let mut names = Vec::new();
            bin_names(e, &mut names);
            names.join("_")
        }
        _ => String::new(),
    }
}

pub(super) fn bin_names(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Var { name, .. } | Expr::Call { name, .. } => out.push(name.clone()),
        Expr::Binary { lhs, rhs, .. } => {
            bin_names(lhs, out);
            bin_names(rhs, out);
        }
        Expr::Paren(x) => bin_names(x, out),
        _ => {}
    }
}

/// Column names as 1.x gives them: aliases as written, other names made unique with `_N`.
pub(super) fn column_names(time_name: &str, fields: &[Field]) -> Vec<String> {
    let mut cols = vec![time_name.to_string()];
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut names: Vec<Option<String>> = fields.iter().map(|f| f.alias.clone()).collect();
    for n in names.iter().flatten() {
        used.insert(n.clone(), 1);
    }
    for (i, f) in fields.iter().enumerate() {
        if names[i].is_some() {
            continue;
        }
        let base = expr_name(&f.expr);
        let mut name = base.clone();
        if let Some(&count) = used.get(&base) {
            let mut c = count;
            loop {
                let cand = format!("{base}_{c}");
                if !used.contains_key(&cand) {
                    used.insert(base.clone(), c + 1);
                    name = cand;
                    break;
                }
                c += 1;
            }
        }
        *used.entry(name.clone()).or_insert(0) += 1;
        names[i] = Some(name);
    }
    cols.extend(names.into_iter().map(|n| n.unwrap_or_default()));
    cols
}

/// The time column's name and the other fields: `time` selected alone is the time column itself
/// (maybe renamed with AS), not a field.
pub(super) fn split_time_column(fields: Vec<Field>) -> (String, Vec<Field>) {
    let mut time_name = "time".to_string();
    let mut out_fields: Vec<Field> = Vec::new();
    for f in fields {
        if let Expr::Var { name, hint: None } = f.expr.unparen() {
            if name == "time" {
                if let Some(a) = &f.alias {
                    time_name = a.clone();
                }
                continue;
            }
        }
        out_fields.push(f);
    }
    (time_name, out_fields)
}
