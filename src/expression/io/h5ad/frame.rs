//! Dataframes (`obs`, `var`, `raw/var`) in the anndata ≥ 0.7 group layout, and the rules that
//! turn a `var` frame into a [`GeneTable`].

use std::collections::HashMap;
use std::path::Path;

use hdf5_pure::{AttrValue, Dataset, Datatype, File, Group};

use super::decode::{check_dataset, h5err, is_numeric, len_1d, read_f64_all};
use crate::error::{Error, Result};
use crate::expression::{GeneTable, ObsColumn};

/// A dataframe: its index and the columns this crate represents, in file order.
#[derive(Debug, Default)]
pub(super) struct Frame {
    /// Row names.
    pub index: Vec<String>,
    /// Columns, in `column-order`.
    pub columns: Vec<(String, ObsColumn)>,
}

/// A string attribute (`encoding-type`, `_index`, ...), whichever string form h5py used.
pub(super) fn attr_str(attrs: &HashMap<String, AttrValue>, name: &str) -> Option<String> {
    attrs.get(name).and_then(|a| a.as_str()).map(str::to_string)
}

/// The `encoding-type` attribute of a group or dataset, if any.
pub(super) fn encoding(attrs: &HashMap<String, AttrValue>) -> Option<String> {
    attr_str(attrs, "encoding-type")
}

/// Reads the dataframe group `g` at `name` (the anndata ≥ 0.7 layout).
pub(super) fn read_group_frame(
    file: &File,
    path: &Path,
    name: &str,
    g: &Group,
    keep: Option<&[String]>,
) -> Result<Frame> {
    let attrs = g.attrs().map_err(|e| h5err(path, name, e))?;
    let datasets = g.datasets().map_err(|e| h5err(path, name, e))?;
    let groups = g.groups().map_err(|e| h5err(path, name, e))?;
    let index_name = attr_str(&attrs, "_index")
        .or_else(|| {
            ["_index", "index"]
                .into_iter()
                .find(|n| datasets.iter().any(|d| d == n))
                .map(str::to_string)
        })
        .ok_or_else(|| {
            Error::format(
                path,
                format!("`{name}` has no index (no `_index` attribute or `_index` dataset)"),
            )
        })?;
    let index_path = format!("{name}/{index_name}");
    let index_ds = file
        .dataset(&index_path)
        .map_err(|e| h5err(path, &index_path, e))?;
    let index = read_labels(&index_ds, file, path, &index_path)?.ok_or_else(|| {
        Error::format(
            path,
            format!("{index_path}: the index is neither strings nor numbers"),
        )
    })?;
    let order: Vec<String> = match attrs.get("column-order") {
        // An empty column list is written by anndata as an empty float64 array.
        Some(a) => a.as_strings().map(<[String]>::to_vec).unwrap_or_default(),
        None => datasets
            .iter()
            .chain(groups.iter())
            .filter(|c| **c != index_name && *c != "__categories")
            .cloned()
            .collect(),
    };
    let mut columns = Vec::with_capacity(order.len());
    for col in order {
        if col == index_name || keep.is_some_and(|k| !k.contains(&col)) {
            continue;
        }
        let col_path = format!("{name}/{col}");
        let column = if groups.contains(&col) {
            read_group_column(file, path, &col_path)?
        } else if datasets.contains(&col) {
            let ds = file
                .dataset(&col_path)
                .map_err(|e| h5err(path, &col_path, e))?;
            let cats = format!("{name}/__categories/{col}");
            if groups.iter().any(|g| g == "__categories") && file.dataset(&cats).is_ok() {
                // anndata 0.7: integer codes, labels behind an object reference we follow by path.
                Some(categorical(file, path, &col_path, &ds, &cats)?)
            } else {
                read_plain_column(&ds, file, path, &col_path)?
            }
        } else {
            return Err(Error::format(
                path,
                format!("`{name}` lists column `{col}` in column-order, but it is not in the file"),
            ));
        };
        if let Some(column) = column {
            if column.len() != index.len() {
                return Err(Error::format(
                    path,
                    format!(
                        "{col_path} has {} entries, but `{name}` has {} rows",
                        column.len(),
                        index.len()
                    ),
                ));
            }
            columns.push((col, column));
        }
    }
    Ok(Frame { index, columns })
}

/// A column stored as a group: categorical or a nullable array; `None` for anything else.
fn read_group_column(file: &File, path: &Path, col_path: &str) -> Result<Option<ObsColumn>> {
    let g = file.group(col_path).map_err(|e| h5err(path, col_path, e))?;
    let attrs = g.attrs().map_err(|e| h5err(path, col_path, e))?;
    let sub = |s: &str| {
        let p = format!("{col_path}/{s}");
        file.dataset(&p)
            .map(|d| (d, p.clone()))
            .map_err(|e| h5err(path, &p, e))
    };
    match encoding(&attrs).as_deref() {
        Some("categorical") => {
            let (codes, codes_path) = sub("codes")?;
            Ok(Some(categorical(
                file,
                path,
                &codes_path,
                &codes,
                &format!("{col_path}/categories"),
            )?))
        }
        Some("nullable-integer") | Some("nullable-boolean") | Some("nullable-float") => {
            let (values, vp) = sub("values")?;
            let (mask, mp) = sub("mask")?;
            let mut v = read_f64_all(&values, file, path, &vp)?;
            let missing = read_mask(&mask, file, path, &mp, v.len())?;
            for (x, masked) in v.iter_mut().zip(missing) {
                if masked {
                    *x = f64::NAN;
                }
            }
            Ok(Some(ObsColumn::Numeric(v)))
        }
        Some("nullable-string-array") => {
            let (values, vp) = sub("values")?;
            let (mask, mp) = sub("mask")?;
            let mut v = read_labels(&values, file, path, &vp)?.unwrap_or_default();
            let missing = read_mask(&mask, file, path, &mp, v.len())?;
            for (x, masked) in v.iter_mut().zip(missing) {
                if masked {
                    x.clear();
                }
            }
            Ok(Some(ObsColumn::Text(v)))
        }
        _ => Ok(None),
    }
}

/// The `mask` of a nullable column (true = missing), which must have one entry per value.
fn read_mask(mask: &Dataset, file: &File, path: &Path, mp: &str, n: usize) -> Result<Vec<bool>> {
    let m = read_f64_all(mask, file, path, mp)?;
    if m.len() != n {
        return Err(Error::format(
            path,
            format!("{mp} has {} entries, values has {n}", m.len()),
        ));
    }
    Ok(m.into_iter().map(|x| x != 0.0).collect())
}

/// A column stored as one dataset: numbers (and booleans) or strings; `None` otherwise.
fn read_plain_column(
    ds: &Dataset,
    file: &File,
    path: &Path,
    col_path: &str,
) -> Result<Option<ObsColumn>> {
    let shape = ds.shape().map_err(|e| h5err(path, col_path, e))?;
    if shape.len() != 1 {
        return Ok(None);
    }
    let dt = ds.datatype().map_err(|e| h5err(path, col_path, e))?;
    if is_string(&dt) {
        Ok(Some(ObsColumn::Text(read_strings(
            ds, file, path, col_path,
        )?)))
    } else if is_numeric(&dt) {
        Ok(Some(ObsColumn::Numeric(read_f64_all(
            ds, file, path, col_path,
        )?)))
    } else {
        Ok(None)
    }
}

/// A categorical from its codes dataset and the path of its categories.
pub(super) fn categorical(
    file: &File,
    path: &Path,
    codes_path: &str,
    codes: &Dataset,
    categories_path: &str,
) -> Result<ObsColumn> {
    let cats = file
        .dataset(categories_path)
        .map_err(|e| h5err(path, categories_path, e))?;
    let categories = read_labels(&cats, file, path, categories_path)?.ok_or_else(|| {
        Error::format(
            path,
            format!("{categories_path}: categories are neither strings nor numbers"),
        )
    })?;
    let raw = read_f64_all(codes, file, path, codes_path)?;
    Ok(ObsColumn::Categorical {
        codes: codes_from(&raw, categories.len(), path, codes_path)?,
        categories,
    })
}

/// Checks codes: integers in `-1..n_categories` (-1 is pandas' missing value).
pub(super) fn codes_from(raw: &[f64], n: usize, path: &Path, what: &str) -> Result<Vec<i32>> {
    raw.iter()
        .enumerate()
        .map(|(i, &c)| {
            if c.fract() == 0.0 && c >= -1.0 && c < n as f64 {
                Ok(c as i32)
            } else {
                Err(Error::format(
                    path,
                    format!("{what}[{i}] = {c} is not a valid code for {n} categories"),
                ))
            }
        })
        .collect()
}

/// True for fixed- and variable-length string datatypes.
pub(super) fn is_string(dt: &Datatype) -> bool {
    matches!(
        dt,
        Datatype::String { .. }
            | Datatype::VariableLength {
                is_string: true,
                ..
            }
    )
}

/// All strings of a 1-D string dataset.
pub(super) fn read_strings(
    ds: &Dataset,
    file: &File,
    path: &Path,
    what: &str,
) -> Result<Vec<String>> {
    let n = len_1d(ds, path, what)?;
    // The stored elements and a `String` per element.
    check_dataset(ds, path, what, n as u64, 24, file.file_size())?;
    ds.read_string().map_err(|e| h5err(path, what, e))
}

/// Strings, or numbers written as text (an index or categories of numbers); `None` for other
/// datatypes.
pub(super) fn read_labels(
    ds: &Dataset,
    file: &File,
    path: &Path,
    what: &str,
) -> Result<Option<Vec<String>>> {
    let dt = ds.datatype().map_err(|e| h5err(path, what, e))?;
    if is_string(&dt) {
        return read_strings(ds, file, path, what).map(Some);
    }
    if is_numeric(&dt) {
        let v = read_f64_all(ds, file, path, what)?;
        return Ok(Some(v.iter().map(|&x| number_label(x)).collect()));
    }
    Ok(None)
}

/// `3` for integral values, `2.5` otherwise (what pandas prints for int and float labels).
pub(super) fn number_label(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// Columns that may hold Ensembl gene ids.
const ID_COLUMNS: [&str; 2] = ["gene_ids", "gene_id"];
/// Columns that may hold gene symbols when the index holds ids.
const SYMBOL_COLUMNS: [&str; 5] = [
    "feature_name",
    "gene_symbols",
    "gene_symbol",
    "gene_name",
    "symbol",
];

/// Turns a `var` frame into gene symbols and ids (rules in the module docs).
pub(super) fn gene_table(var: Frame) -> GeneTable {
    let text = |name: &str| -> Option<Vec<String>> {
        var.columns
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, c)| match c {
                ObsColumn::Text(v) => Some(v.clone()),
                ObsColumn::Categorical { .. } => Some((0..c.len()).map(|i| c.label(i)).collect()),
                ObsColumn::Numeric(_) => None,
            })
    };
    let symbols = if looks_like_ensembl(&var.index) {
        SYMBOL_COLUMNS.iter().find_map(|c| text(c))
    } else {
        None
    };
    match symbols {
        Some(mut symbols) => {
            for (s, id) in symbols.iter_mut().zip(&var.index) {
                if s.is_empty() {
                    s.clone_from(id);
                }
            }
            GeneTable {
                symbols,
                ids: Some(var.index),
            }
        }
        None => {
            let ids = ID_COLUMNS.iter().find_map(|c| text(c));
            GeneTable {
                symbols: var.index,
                ids,
            }
        }
    }
}

/// At least 90% of names are `ENS` + capital letters + at least 6 digits (+ `.version`).
fn looks_like_ensembl(names: &[String]) -> bool {
    if names.is_empty() {
        return false;
    }
    let is_id = |s: &str| -> bool {
        let Some(rest) = s.strip_prefix("ENS") else {
            return false;
        };
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_uppercase());
        let (digits, version) = rest.split_once('.').unwrap_or((rest, "0"));
        digits.len() >= 6
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit())
    };
    let hits = names.iter().filter(|s| is_id(s)).count();
    hits * 10 >= names.len() * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensembl_detection() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(looks_like_ensembl(&ids(&[
            "ENSG00000167281",
            "ENSMUSG00000000001.3"
        ])));
        assert!(!looks_like_ensembl(&ids(&["CD3E", "ENSG00000167281"])));
        assert!(!looks_like_ensembl(&ids(&["ENSG12", "ENSGXX"])));
        assert!(!looks_like_ensembl(&[]));
    }

    #[test]
    fn symbols_from_feature_name_when_index_is_ensembl() {
        let var = Frame {
            index: vec!["ENSG00000000001".into(), "ENSG00000000002".into()],
            columns: vec![(
                "feature_name".into(),
                ObsColumn::Categorical {
                    categories: vec!["CD3E".into()],
                    codes: vec![0, -1],
                },
            )],
        };
        let g = gene_table(var);
        assert_eq!(g.symbols, vec!["CD3E", "ENSG00000000002"]);
        assert_eq!(g.ids.unwrap()[0], "ENSG00000000001");
    }
}
