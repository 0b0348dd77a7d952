//! The procedure list as the fuzz run sees it: each procedure's name and the JSON shape
//! of its params, read from the list the server registers (`procedures::visit`) and the
//! specta type of its input, with serde's renames and tagging applied (`specta_serde`).
//! A procedure added to the list is fuzzed without anyone adding it here.

use keyward_rpc::procedure::{Access, Procedure, ProcedureVisitor};
use specta::datatype::{DataType, Fields, NamedReferenceType, Primitive, Reference};
use specta::{Format, Type, Types};

/// The JSON a param may be, as far as the fuzz run needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Null,
    Bool,
    /// An integer that fits in `bits` (signed or not).
    Int {
        bits: u32,
        signed: bool,
    },
    Float,
    Str(StrKind),
    /// Exactly this string (an enum value, a tag).
    Literal(String),
    /// Any one of these (an enum, `T | null`).
    OneOf(Vec<Shape>),
    List(Box<Shape>),
    /// An object with any keys.
    Map(Box<Shape>),
    Object(Vec<Field>),
    Tuple(Vec<Shape>),
    /// What the type system did not say (a type this module does not know yet).
    Any,
}

/// Strings that mean more than text, where the type says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    Text,
    /// An RFC 3339 instant (`chrono::DateTime`).
    Instant,
    /// A calendar date (`chrono::NaiveDate`).
    Date,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// May be left out.
    pub optional: bool,
    pub shape: Shape,
}

/// One procedure of the list.
#[derive(Debug, Clone)]
pub struct ProcedureShape {
    pub name: &'static str,
    pub public: bool,
    pub input: Shape,
}

/// Every procedure of the list, in list order.
pub fn procedures() -> Vec<ProcedureShape> {
    struct Collect(Types, Vec<(&'static str, bool, DataType)>);
    impl ProcedureVisitor for Collect {
        fn visit<P: Procedure>(&mut self) {
            let input = P::Input::definition(&mut self.0);
            self.1.push((P::NAME, P::ACCESS == Access::Public, input));
        }
    }
    let mut collect = Collect(Types::default(), Vec::new());
    keyward_rpc::procedures::visit(&mut collect);
    let types = specta_serde::Format.map_types(&collect.0).expect("serde-format the input types").into_owned();
    collect
        .1
        .iter()
        .map(|(name, public, input)| {
            let input = specta_serde::Format.map_type(&types, input).expect("serde-format an input type");
            ProcedureShape { name, public: *public, input: shape(&types, &input, 0) }
        })
        .collect()
}

fn shape(types: &Types, dt: &DataType, depth: usize) -> Shape {
    if depth > 16 {
        return Shape::Any;
    }
    let go = |dt: &DataType| shape(types, dt, depth + 1);
    match dt {
        DataType::Primitive(p) => primitive(p),
        DataType::List(list) => Shape::List(Box::new(go(&list.ty))),
        DataType::Map(map) => Shape::Map(Box::new(go(map.value_ty()))),
        DataType::Struct(s) => fields(types, &s.fields, depth),
        DataType::Enum(e) => {
            let variants: Vec<Shape> = e
                .variants
                .iter()
                .filter(|(_, v)| !v.skip)
                .map(|(name, v)| match &v.fields {
                    Fields::Unit => Shape::Literal(name.to_string()),
                    fields => self::fields(types, fields, depth),
                })
                .collect();
            match <[Shape; 1]>::try_from(variants) {
                Ok([one]) => one,
                Err(many) => Shape::OneOf(many),
            }
        }
        DataType::Tuple(t) if t.elements.is_empty() => Shape::Null,
        DataType::Tuple(t) => Shape::Tuple(t.elements.iter().map(go).collect()),
        DataType::Nullable(inner) => Shape::OneOf(vec![Shape::Null, go(inner)]),
        DataType::Intersection(parts) => {
            let mut all = Vec::new();
            for part in parts {
                match go(part) {
                    Shape::Object(f) => all.extend(f),
                    _ => return Shape::Any,
                }
            }
            Shape::Object(all)
        }
        DataType::Generic(_) => Shape::Any,
        DataType::Reference(Reference::Named(r)) => {
            let named = types.get(r);
            match named.map(|n| n.name.as_ref()) {
                Some("DateTime") => return Shape::Str(StrKind::Instant),
                Some("NaiveDate") => return Shape::Str(StrKind::Date),
                _ => {}
            }
            match &r.inner {
                NamedReferenceType::Inline { dt, .. } => go(dt),
                NamedReferenceType::Reference { .. } => named.and_then(|n| n.ty.as_ref()).map_or(Shape::Any, go),
                NamedReferenceType::Recursive(_) => Shape::Any,
            }
        }
        DataType::Reference(Reference::Opaque(_)) => Shape::Any,
    }
}

fn fields(types: &Types, fields: &Fields, depth: usize) -> Shape {
    match fields {
        Fields::Unit => Shape::Null,
        Fields::Unnamed(u) => {
            let present: Vec<Shape> =
                u.fields.iter().filter_map(|f| f.ty.as_ref()).map(|t| shape(types, t, depth + 1)).collect();
            match <[Shape; 1]>::try_from(present) {
                Ok([one]) => one,
                Err(many) => Shape::Tuple(many),
            }
        }
        Fields::Named(n) => Shape::Object(
            n.fields
                .iter()
                .filter_map(|(name, f)| {
                    let ty = f.ty.as_ref()?;
                    Some(Field { name: name.to_string(), optional: f.optional, shape: shape(types, ty, depth + 1) })
                })
                .collect(),
        ),
    }
}

fn primitive(p: &Primitive) -> Shape {
    use Primitive::*;
    let int = |bits, signed| Shape::Int { bits, signed };
    match p {
        i8 => int(8, true),
        i16 => int(16, true),
        i32 => int(32, true),
        i64 | isize => int(64, true),
        i128 => int(128, true),
        u8 => int(8, false),
        u16 => int(16, false),
        u32 => int(32, false),
        u64 | usize => int(64, false),
        u128 => int(128, false),
        f16 | f32 | f64 | f128 => Shape::Float,
        bool => Shape::Bool,
        char | str => Shape::Str(StrKind::Text),
    }
}

#[test]
fn every_procedure_has_a_known_shape() {
    fn has_any(s: &Shape) -> bool {
        match s {
            Shape::Any => true,
            Shape::OneOf(v) | Shape::Tuple(v) => v.iter().any(has_any),
            Shape::List(s) | Shape::Map(s) => has_any(s),
            Shape::Object(f) => f.iter().any(|f| has_any(&f.shape)),
            _ => false,
        }
    }
    let all = procedures();
    assert_eq!(all.len(), keyward_rpc::procedure::names().len());
    for p in &all {
        assert!(matches!(p.input, Shape::Object(_)), "{}: params are an object: {:?}", p.name, p.input);
        assert!(!has_any(&p.input), "{}: a part of the input type is not understood: {:?}", p.name, p.input);
    }
    let send_sms = all.iter().find(|p| p.name == "keys.sendSms").expect("keys.sendSms");
    let Shape::Object(fields) = &send_sms.input else { unreachable!() };
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["target", "personId", "recipientName", "phone", "idempotencyKey"]);
    assert!(fields[1..].iter().all(|f| f.optional) && !fields[0].optional);
    let Shape::OneOf(targets) = &fields[0].shape else { panic!("target: {:?}", fields[0].shape) };
    assert_eq!(
        targets[0],
        Shape::Object(vec![
            Field { name: "type".into(), optional: false, shape: Shape::Literal("key".into()) },
            Field { name: "id".into(), optional: false, shape: Shape::Str(StrKind::Text) },
        ])
    );
    let audit = all.iter().find(|p| p.name == "audit.list").expect("audit.list");
    let Shape::Object(fields) = &audit.input else { unreachable!() };
    let from = fields.iter().find(|f| f.name == "from").expect("from");
    assert_eq!(from.shape, Shape::OneOf(vec![Shape::Null, Shape::Str(StrKind::Instant)]));
}
