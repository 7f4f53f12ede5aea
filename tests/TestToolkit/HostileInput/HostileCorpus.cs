using System.Text;
using System.Text.Json.Nodes;

namespace LlmAspire.TestToolkit.HostileInput;

/// <summary>One malformed or adversarial request body, named for the failure report.</summary>
public sealed record HostileBody(string Name, byte[] Bytes)
{
    public override string ToString() => Name;
}

/// <summary>
/// Malformed and adversarial request bodies, generated (the same every run) from one well-formed body of an endpoint,
/// plus the hand-written cases of <c>cases.txt</c>. Every value the body holds at the given paths is replaced in turn by
/// every hostile value (bad encodings and escapes, numbers JSON allows but machines do not, wrong types, deep nesting,
/// large sizes), removed, and repeated; and the body as a whole is broken (cut short, re-encoded, wrapped, emptied).
/// </summary>
public static class HostileCorpus
{
    private const string Marker = "\"__hostile__\"";

    /// <summary>Raw JSON put where a value goes; raw bytes, so that invalid UTF-8 and invalid JSON can be placed too.</summary>
    public static IReadOnlyList<(string Name, byte[] Json)> Values { get; } = BuildValues();

    /// <summary>Hostile query-string and path values, already percent-encoded as they go into a URL.</summary>
    public static IReadOnlyList<string> UrlValues { get; } =
    [
        "", "abc", "%00", "x%00y", "%ED%A0%80", "%F0%9F", "%FF%FE", "%C0%80", "1e400", "-1e400", "1e-400", "-1", "0", "-0",
        "99999999999999999999", "NaN", "Infinity", "0x10", "true", "0001-01-01", "9999-12-31", "2026-02-30", "%0D%0AX-Injected:%201",
        "..%2F..%2Fetc%2Fpasswd", "%25", "%2", new string('a', 5_000),
    ];

    /// <summary>
    /// The corpus for an endpoint whose well-formed body is <paramref name="template"/>, with hostile values placed at
    /// <paramref name="paths"/> (<c>model</c>, <c>messages[0].content</c>, …).
    /// </summary>
    public static IEnumerable<HostileBody> For(string template, params string[] paths)
    {
        foreach (var path in paths)
        {
            var (before, after) = Split(template, path);
            foreach (var (name, json) in Values)
            {
                yield return new HostileBody($"{path} = {name}", [.. before, .. json, .. after]);
            }

            var document = JsonNode.Parse(template)!;
            var (parent, key) = Locate(document, path);
            if (parent is JsonObject owner)
            {
                owner.Remove(key);
                yield return new HostileBody($"{path} removed", Encoding.UTF8.GetBytes(document.ToJsonString()));
            }

            if (parent == document)
            {
                // A member given twice, the second time as a string, where parsers differ on which one counts.
                yield return new HostileBody($"{path} twice", [.. before, .. "\"first\""u8, .. after[..^1], .. Encoding.UTF8.GetBytes($",\"{key}\":\"second\""), .. after[^1..]]);
            }
        }

        foreach (var body in Whole(Encoding.UTF8.GetBytes(template)))
        {
            yield return body;
        }

        foreach (var body in HandWritten())
        {
            yield return body;
        }
    }

    /// <summary>The checked-in cases: <c>name: body</c> per line, <c>\xHH</c> in a body standing for that raw byte.</summary>
    public static IEnumerable<HostileBody> HandWritten()
    {
        using var stream = typeof(HostileCorpus).Assembly.GetManifestResourceStream("LlmAspire.TestToolkit.HostileInput.cases.txt")!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            yield return new HostileBody($"case {line[..colon]}", Unescape(line[(colon + 2)..]));
        }
    }

    private static IEnumerable<HostileBody> Whole(byte[] valid)
    {
        var text = Encoding.UTF8.GetString(valid);
        yield return new HostileBody("empty body", []);
        yield return new HostileBody("whitespace only", " \t\r\n "u8.ToArray());
        foreach (var json in new[] { "null", "true", "0", "\"text\"", "[]", "[{}]", "{}", "{}{}", "{", "}", "[", "\"" })
        {
            yield return new HostileBody($"document {json}", Encoding.UTF8.GetBytes(json));
        }

        yield return new HostileBody("byte order mark", [0xEF, 0xBB, 0xBF, .. valid]);
        yield return new HostileBody("UTF-16", Encoding.Unicode.GetBytes(text));
        yield return new HostileBody("UTF-16 big-endian with mark", [.. Encoding.BigEndianUnicode.GetPreamble(), .. Encoding.BigEndianUnicode.GetBytes(text)]);
        yield return new HostileBody("UTF-32", Encoding.UTF32.GetBytes(text));
        yield return new HostileBody("Latin-1 bytes", Encoding.Latin1.GetBytes(text.Replace("\"", "\"\u00e9", StringComparison.Ordinal)));
        yield return new HostileBody("NUL bytes inside", [.. valid[..1], 0, 0, .. valid[1..]]);
        yield return new HostileBody("trailing garbage", [.. valid, .. "x"u8]);
        yield return new HostileBody("trailing comma", Encoding.UTF8.GetBytes(text[..^1] + ",}"));
        yield return new HostileBody("comment", Encoding.UTF8.GetBytes("/* hi */" + text));
        yield return new HostileBody("single quotes", Encoding.UTF8.GetBytes(text.Replace('"', '\'')));
        yield return new HostileBody("wrapped in an array", [.. "["u8, .. valid, .. "]"u8]);
        yield return new HostileBody("object nested 10000 deep", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000)));
        yield return new HostileBody("array opened 100000 times", Encoding.UTF8.GetBytes(new string('[', 100_000)));
        yield return new HostileBody("10000 members", Encoding.UTF8.GetBytes(text[..^1] + string.Concat(Enumerable.Range(0, 10_000).Select(i => $",\"k{i}\":{i}")) + "}"));
        var random = new Random(20261127);
        for (var cut = 1; cut <= 12; cut++)
        {
            var at = random.Next(1, valid.Length);
            yield return new HostileBody($"cut after {at} bytes", valid[..at]);
        }

        for (var i = 0; i < 8; i++)
        {
            var noise = new byte[random.Next(1, 512)];
            random.NextBytes(noise);
            yield return new HostileBody($"random bytes {i}", noise);
        }
    }

    private static List<(string, byte[])> BuildValues()
    {
        var values = new List<(string, byte[])>();
        void Add(string name, string json) => values.Add((name, Encoding.UTF8.GetBytes(json)));
        void Raw(string name, byte[] json) => values.Add((name, json));

        // Strings: escapes and encodings no UTF-16 or UTF-8 consumer can take as they are.
        Add("NUL escape", "\"x\\u0000y\"");
        Add("lone high surrogate (a cut emoji)", "\"\\ud83d\"");
        Add("lone low surrogate", "\"\\ude00\"");
        Add("surrogates reversed", "\"\\ude00\\ud83d\"");
        Add("high surrogate then letter", "\"\\ud83dA\"");
        Add("invalid escape", "\"\\x41\"");
        Add("short unicode escape", "\"\\u12\"");
        Add("raw control character", "\"a\u0001b\"");
        Add("raw newline", "\"a\nb\"");
        Add("empty string", "\"\"");
        Add("spaces", "\"   \"");
        Add("right-to-left override", "\"\u202egnp.exe\"");
        Add("zero-width joiners", "\"m\u200d\u200d\"");
        Add("header injection", "\"m\\r\\nX-Injected: 1\"");
        Add("path traversal", "\"../../etc/passwd\"");
        Add("string of 100000 characters", $"\"{new string('a', 100_000)}\"");
        Add("string of 20000 escapes", $"\"{string.Concat(Enumerable.Repeat("\\u0041", 20_000))}\"");
        Raw("invalid UTF-8 byte", [.. "\"a"u8, 0xFF, .. "b\""u8]);
        Raw("truncated UTF-8 sequence", [.. "\"a"u8, 0xC3, .. "\""u8]);
        Raw("overlong UTF-8 NUL", [.. "\""u8, 0xC0, 0x80, .. "\""u8]);
        Raw("UTF-8 encoded surrogate", [.. "\""u8, 0xED, 0xA0, 0x80, .. "\""u8]);
        Raw("UTF-8 beyond U+10FFFF", [.. "\""u8, 0xF4, 0x90, 0x80, 0x80, .. "\""u8]);
        Raw("raw NUL byte in string", [.. "\"a"u8, 0x00, .. "b\""u8]);

        // Numbers: valid JSON at the very limits of machine types, beyond them, and invalid JSON numbers.
        foreach (var number in new[]
        {
            "1e400", "-1e400", "1e-400", "4e9999999999", "123456789012345678901234567890", "-9223372036854775809", "2147483648",
            "2147483647", "9223372036854775807", "1e308", "1.7976931348623157e308", "5e-324",
            "-0", "0e0", "1E+2", "-1", "0.5", new string('9', 5_000), "1." + new string('0', 5_000) + "1",
        })
        {
            Add($"number {(number.Length > 40 ? $"of {number.Length} characters" : number)}", number);
        }

        foreach (var invalid in new[] { "NaN", "Infinity", "-Infinity", "01", ".5", "1.", "+1", "-", "0x10", "1e", "1_000" })
        {
            Add($"invalid number {invalid}", invalid);
        }

        // Types and shapes.
        foreach (var json in new[] { "null", "true", "false", "[]", "{}", "[null]", "{\"\":null}", "[[[[]]]]", "{\"__proto__\":{\"admin\":true}}" })
        {
            Add($"value {json}", json);
        }

        Add("array nested 300 deep", new string('[', 300) + new string(']', 300));
        Add("object nested 300 deep", string.Concat(Enumerable.Repeat("{\"a\":", 300)) + "0" + new string('}', 300));
        Add("array of 100000 numbers", "[" + string.Join(',', Enumerable.Range(0, 100_000)) + "]");
        Add("unterminated string", "\"open");
        Add("unterminated array", "[1,2");
        Add("nothing", "");
        return values;
    }

    /// <summary>The template's bytes before and after the value at <paramref name="path"/>.</summary>
    private static (byte[] Before, byte[] After) Split(string template, string path)
    {
        var document = JsonNode.Parse(template)!;
        var (parent, key) = Locate(document, path);
        if (parent is JsonObject owner)
        {
            owner[key] = "__hostile__";
        }
        else
        {
            parent!.AsArray()[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)] = "__hostile__";
        }

        var text = document.ToJsonString();
        var at = text.IndexOf(Marker, StringComparison.Ordinal);
        return (Encoding.UTF8.GetBytes(text[..at]), Encoding.UTF8.GetBytes(text[(at + Marker.Length)..]));
    }

    /// <summary>The node holding the value at <paramref name="path"/> and the value's member name or index.</summary>
    private static (JsonNode? Parent, string Key) Locate(JsonNode document, string path)
    {
        var steps = path.Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal).Split('.');
        var node = document;
        foreach (var step in steps[..^1])
        {
            node = int.TryParse(step, out var index) ? node!.AsArray()[index] : node![step];
        }

        return (node, steps[^1]);
    }

    private static byte[] Unescape(string line)
    {
        var bytes = new List<byte>();
        var text = 0;
        for (var i = 0; i + 3 < line.Length; i++)
        {
            if (line[i] == '\\' && line[i + 1] == 'x')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(line[text..i]));
                bytes.Add(Convert.ToByte(line.Substring(i + 2, 2), 16));
                text = i + 4;
                i += 3;
            }
        }

        bytes.AddRange(Encoding.UTF8.GetBytes(line[text..]));
        return [.. bytes];
    }
}
