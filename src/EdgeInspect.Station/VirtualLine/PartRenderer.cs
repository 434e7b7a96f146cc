using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.VirtualLine;

/// <summary>
/// Renders machined metal plates on a conveyor belt, some with defects (scratch, dent, pit,
/// discoloration), with exact ground-truth boxes. Pure managed code, deterministic from
/// (seed, part index): part 17 of seed 3 is the same image on every machine and run.
///
/// What makes it non-trivial for a detector: brushed texture with random direction, lighting gradient,
/// vignette and a specular band that vary per part, plate position and tint jitter, sensor noise, and
/// distractors that are not defects (bore holes at the corners, a stamped serial mark, dust specks
/// smaller than any defect). Defect boxes are at least <see cref="MinDefectSize"/> px per side (the
/// box is padded around thin scratches), at most about 100 px.
/// <para>One file on purpose: the scene is one deterministic sequence of random draws per part; moving a
/// drawing step elsewhere would hide the order that keeps part 17 of seed 3 the same image everywhere.</para>
/// </summary>
public sealed class PartRenderer
{
    public const int MinDefectSize = 16;
    private const int MaxDefects = 3;

    private readonly PartRendererOptions _options;

    public PartRenderer(PartRendererOptions options)
    {
        options.Validate();
        _options = options;
    }

    public PartRendererOptions Options => _options;

    /// <summary>Part id of part <paramref name="index"/>: stable, so records and annotations line up.</summary>
    public string PartIdOf(long index) => $"vl{_options.Seed}-{index:D6}";

    /// <summary>Render part <paramref name="index"/> into <paramref name="target"/> (reshaped to the configured size).</summary>
    public PartTruth Render(long index, ImageBuffer target)
    {
        int w = _options.Width, h = _options.Height;
        target.Reshape(w, h);
        var rng = SplitMix64.ForPart(_options.Seed, index);
        var scene = Scene.Create(ref rng, w, h);

        DrawBase(target, scene);

        var occupied = new List<BoxF>(8);
        DrawDistractors(target, scene, ref rng, occupied);

        var defects = new List<DefectTruth>(MaxDefects);
        if (rng.Chance(_options.DefectRate))
        {
            double r = rng.NextDouble();
            int count = r < 0.70 ? 1 : r < 0.95 ? 2 : 3;
            for (int i = 0; i < count; i++)
            {
                string cls = DefectClasses.All[rng.NextInt(0, DefectClasses.All.Count)];
                // A few tries to find a free spot; a crowded plate just gets fewer defects.
                for (int attempt = 0; attempt < 12; attempt++)
                {
                    var box = DrawDefect(target, scene, cls, ref rng, occupied, dryRun: true);
                    if (box is null) continue;
                    DrawDefect(target, scene, cls, ref rng, occupied, dryRun: false);
                    defects.Add(new DefectTruth(cls, box.Value));
                    occupied.Add(box.Value);
                    break;
                }
            }
        }

        AddSensorNoise(target, scene);
        return new PartTruth(index, PartIdOf(index), defects, scene.Plate);
    }

    // ---- scene ------------------------------------------------------------------------------

    private sealed class Scene
    {
        public int W, H;
        public BoxF Plate;
        public float PlateB, PlateG, PlateR;
        public float BeltLevel;
        public int BeltPhase;
        public bool BrushHorizontal;
        public float BrushStrength;
        public float GradX, GradY, GradStrength, Vignette;
        public float SpecAngleCos, SpecAngleSin, SpecOffset, SpecWidth, SpecStrength;
        public float NoiseSigma;
        public float LightX, LightY;
        public uint TexSeed, NoiseSeed;
        // A pending defect's parameters, drawn once in dry-run (placement) and reused when drawing.
        public float P0, P1, P2, P3, P4, P5, P6;
        public int PI0;
        public uint PSeed;

        public static Scene Create(ref SplitMix64 rng, int w, int h)
        {
            var s = new Scene { W = w, H = h };
            float pw = w * rng.NextFloat(0.62f, 0.78f), ph = h * rng.NextFloat(0.66f, 0.82f);
            // The part is caught while moving along the belt (x): its position jitters around the trigger point.
            float cx = w / 2f + rng.NextFloat(-0.08f, 0.08f) * w, cy = h / 2f + rng.NextFloat(-0.05f, 0.05f) * h;
            s.Plate = new BoxF(MathF.Round(cx - pw / 2), MathF.Round(cy - ph / 2), MathF.Round(cx + pw / 2), MathF.Round(cy + ph / 2));
            // Steel to aluminium: grey with a small per-channel tint.
            float level = rng.NextFloat(125, 185);
            s.PlateB = level * rng.NextFloat(0.97f, 1.08f);
            s.PlateG = level * rng.NextFloat(0.97f, 1.03f);
            s.PlateR = level * rng.NextFloat(0.92f, 1.02f);
            s.BeltLevel = rng.NextFloat(28, 55);
            s.BeltPhase = rng.NextInt(0, 64);
            s.BrushHorizontal = rng.Chance(0.7);
            s.BrushStrength = rng.NextFloat(0.04f, 0.10f);
            float ga = rng.NextFloat(0, MathF.Tau);
            s.GradX = MathF.Cos(ga); s.GradY = MathF.Sin(ga);
            s.GradStrength = rng.NextFloat(0.08f, 0.30f);
            s.Vignette = rng.NextFloat(0.05f, 0.25f);
            float sa = rng.NextFloat(0, MathF.PI);
            s.SpecAngleCos = MathF.Cos(sa); s.SpecAngleSin = MathF.Sin(sa);
            s.SpecOffset = rng.NextFloat(-0.5f, 0.5f) * MathF.Max(w, h);
            s.SpecWidth = rng.NextFloat(12, 45);
            s.SpecStrength = rng.Chance(0.6) ? rng.NextFloat(0.05f, 0.25f) : 0;
            s.NoiseSigma = rng.NextFloat(2f, 7f);
            float la = rng.NextFloat(0, MathF.Tau);
            s.LightX = MathF.Cos(la); s.LightY = MathF.Sin(la);
            s.TexSeed = rng.NextSeed();
            s.NoiseSeed = rng.NextSeed();
            return s;
        }

        public bool OnPlate(int x, int y) => x >= Plate.X1 && x < Plate.X2 && y >= Plate.Y1 && y < Plate.Y2;

        public float Light(int x, int y)
        {
            float nx = (x - W / 2f) / W, ny = (y - H / 2f) / H;
            float l = 1 + GradStrength * (nx * GradX + ny * GradY) * 2 - Vignette * (nx * nx + ny * ny) * 2;
            if (SpecStrength > 0)
            {
                float d = (x * SpecAngleCos + y * SpecAngleSin - SpecOffset - (W * SpecAngleCos + H * SpecAngleSin) / 2) / SpecWidth;
                l += SpecStrength * MathF.Exp(-d * d);
            }
            return l;
        }
    }

    private static void DrawBase(ImageBuffer img, Scene s)
    {
        var px = img.Pixels;
        int stride = img.Stride;
        for (int y = 0; y < s.H; y++)
        {
            int row = y * stride;
            for (int x = 0; x < s.W; x++)
            {
                float light = s.Light(x, y);
                float b, g, r;
                if (s.OnPlate(x, y))
                {
                    // Brushed/machined finish: streaks that are long along the tool direction, one row wide across it.
                    float streak = s.BrushHorizontal
                        ? Noise.Value(x * (1f / 48), y, s.TexSeed)
                        : Noise.Value(x, y * (1f / 48), s.TexSeed);
                    float blotch = Noise.Value(x * (1f / 37), y * (1f / 37), s.TexSeed ^ 0xA5A5u);
                    float tex = 1 + s.BrushStrength * (streak - 0.5f) * 2 + 0.05f * (blotch - 0.5f);
                    // Chamfered edges catch the light on one side and shade the other.
                    float edge = 1;
                    float dl = x - s.Plate.X1, dr = s.Plate.X2 - 1 - x, dt = y - s.Plate.Y1, db = s.Plate.Y2 - 1 - y;
                    if (dl < 3 || dt < 3) edge = 1.25f;
                    else if (dr < 3 || db < 3) edge = 0.7f;
                    float k = light * tex * edge;
                    b = s.PlateB * k; g = s.PlateG * k; r = s.PlateR * k;
                }
                else
                {
                    // Rubber belt with transverse seams; darker shadow just outside the plate's lower/right edge.
                    float rubber = Noise.Value(x * (1f / 5), y * (1f / 5), s.TexSeed ^ 0x5A5Au);
                    float seam = ((x + s.BeltPhase) % 64) < 2 ? 0.6f : 1f;
                    float shadow = 1;
                    if (x >= s.Plate.X1 + 4 && x < s.Plate.X2 + 6 && y >= s.Plate.Y1 + 4 && y < s.Plate.Y2 + 6) shadow = 0.55f;
                    float v = s.BeltLevel * (0.85f + 0.3f * rubber) * seam * shadow * (0.6f + 0.4f * light);
                    b = v; g = v * 1.02f; r = v * 1.04f;
                }
                int i = row + x * 3;
                px[i] = Clamp(b); px[i + 1] = Clamp(g); px[i + 2] = Clamp(r);
            }
        }
    }

    private static void AddSensorNoise(ImageBuffer img, Scene s)
    {
        var px = img.Pixels;
        int stride = img.Stride;
        for (int y = 0; y < s.H; y++)
        {
            for (int x = 0; x < s.W; x++)
            {
                // Sum of three uniforms: close enough to Gaussian read noise, cheap and table-free.
                int i = y * stride + x * 3;
                float n = (Noise.Hash(x, y, s.NoiseSeed) + Noise.Hash(x, y, s.NoiseSeed + 1) + Noise.Hash(x, y, s.NoiseSeed + 2) - 1.5f) * 2 * s.NoiseSigma;
                float c = (Noise.Hash(x, y, s.NoiseSeed + 3) - 0.5f) * s.NoiseSigma * 0.5f; // a little chroma noise
                px[i] = Clamp(px[i] + n + c);
                px[i + 1] = Clamp(px[i + 1] + n);
                px[i + 2] = Clamp(px[i + 2] + n - c);
            }
        }
    }

    // ---- distractors (not defects) ----------------------------------------------------------

    private static void DrawDistractors(ImageBuffer img, Scene s, ref SplitMix64 rng, List<BoxF> occupied)
    {
        var p = s.Plate;
        // Bore holes at some corners: round, dark, with a bright rim; bigger and more regular than pits.
        if (rng.Chance(0.6))
        {
            float rad = rng.NextFloat(6, 10), inset = rad + rng.NextFloat(6, 12);
            int mask = rng.NextInt(1, 16);
            for (int c = 0; c < 4; c++)
            {
                if ((mask & (1 << c)) == 0) continue;
                float cx = (c & 1) == 0 ? p.X1 + inset : p.X2 - inset;
                float cy = (c & 2) == 0 ? p.Y1 + inset : p.Y2 - inset;
                DrawHole(img, s, cx, cy, rad);
                occupied.Add(new BoxF(cx - rad - 3, cy - rad - 3, cx + rad + 3, cy + rad + 3));
            }
        }
        // A stamped serial: a row of small dark glyph blocks near one edge.
        if (rng.Chance(0.5))
        {
            int n = rng.NextInt(5, 9);
            float gw = rng.NextFloat(3, 5), gh = rng.NextFloat(5, 8), gap = rng.NextFloat(1.5f, 3);
            float total = n * (gw + gap);
            float x0 = rng.NextFloat(p.X1 + 24, MathF.Max(p.X1 + 25, p.X2 - 24 - total));
            float y0 = rng.Chance(0.5) ? p.Y1 + rng.NextFloat(6, 12) : p.Y2 - gh - rng.NextFloat(6, 12);
            uint glyphSeed = rng.NextSeed();
            for (int k = 0; k < n; k++)
            {
                float gx = x0 + k * (gw + gap);
                for (int y = (int)y0; y < (int)(y0 + gh); y++)
                    for (int x = (int)gx; x < (int)(gx + gw); x++)
                    {
                        // Dot-matrix glyphs: some cells of each block are stamped.
                        if (Noise.Hash(x - (int)gx + k * 7, y - (int)y0, glyphSeed) < 0.45f) continue;
                        Scale(img, x, y, 0.55f, 0.55f, 0.55f);
                    }
            }
            occupied.Add(new BoxF(x0 - 2, y0 - 2, x0 + total + 2, y0 + gh + 2));
        }
        // Dust specks: 1-2 px, below the smallest defect size.
        int specks = rng.NextInt(0, 7);
        for (int k = 0; k < specks; k++)
        {
            int x = (int)rng.NextFloat(p.X1 + 4, p.X2 - 4), y = (int)rng.NextFloat(p.Y1 + 4, p.Y2 - 4);
            float f = rng.NextFloat(0.5f, 0.8f);
            Scale(img, x, y, f, f, f);
            if (rng.Chance(0.5)) Scale(img, x + 1, y, f, f, f);
        }
    }

    private static void DrawHole(ImageBuffer img, Scene s, float cx, float cy, float rad)
    {
        int x0 = (int)(cx - rad - 3), x1 = (int)(cx + rad + 3), y0 = (int)(cy - rad - 3), y1 = (int)(cy + rad + 3);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                float dx = x - cx, dy = y - cy, d = MathF.Sqrt(dx * dx + dy * dy);
                if (d < rad - 1) Scale(img, x, y, 0.18f, 0.18f, 0.18f);
                else if (d < rad + 1.5f)
                {
                    // Rim lit from the scene's light direction.
                    float lit = 1 + 0.35f * ((dx * s.LightX + dy * s.LightY) / MathF.Max(d, 1e-3f));
                    Scale(img, x, y, lit, lit, lit);
                }
            }
    }

    // ---- defects ----------------------------------------------------------------------------

    /// <summary>
    /// With <paramref name="dryRun"/> true: draws the defect's parameters from <paramref name="rng"/>, stores them
    /// in the scene and returns the box if it fits (on the plate, clear of others), else null. With false: paints
    /// the pending defect. Split so a rejected placement leaves no pixels behind.
    /// </summary>
    private static BoxF? DrawDefect(ImageBuffer img, Scene s, string cls, ref SplitMix64 rng, List<BoxF> occupied, bool dryRun)
    {
        if (dryRun)
        {
            BoxF box = cls switch
            {
                DefectClasses.Scratch => PlanScratch(s, ref rng),
                DefectClasses.Dent => PlanDent(s, ref rng),
                DefectClasses.Pit => PlanPit(s, ref rng),
                _ => PlanDiscoloration(s, ref rng),
            };
            var p = s.Plate;
            if (box.X1 < p.X1 + 4 || box.Y1 < p.Y1 + 4 || box.X2 > p.X2 - 4 || box.Y2 > p.Y2 - 4) return null;
            foreach (var o in occupied)
            {
                if (box.X1 < o.X2 && o.X1 < box.X2 && box.Y1 < o.Y2 && o.Y1 < box.Y2) return null;
            }
            return box;
        }

        switch (cls)
        {
            case DefectClasses.Scratch: PaintScratch(img, s); break;
            case DefectClasses.Dent: PaintDent(img, s); break;
            case DefectClasses.Pit: PaintPit(img, s); break;
            default: PaintDiscoloration(img, s); break;
        }
        return null;
    }

    /// <summary>Pads a tight box to at least <see cref="MinDefectSize"/> per side around its centre.</summary>
    private static BoxF PadToMin(float x1, float y1, float x2, float y2)
    {
        float w = x2 - x1, h = y2 - y1;
        if (w < MinDefectSize) { float c = (x1 + x2) / 2; x1 = c - MinDefectSize / 2f; x2 = c + MinDefectSize / 2f; }
        if (h < MinDefectSize) { float c = (y1 + y2) / 2; y1 = c - MinDefectSize / 2f; y2 = c + MinDefectSize / 2f; }
        return new BoxF(MathF.Floor(x1), MathF.Floor(y1), MathF.Ceiling(x2), MathF.Ceiling(y2));
    }

    private static (float X, float Y) RandomPointOnPlate(Scene s, ref SplitMix64 rng, float margin)
        => (rng.NextFloat(s.Plate.X1 + margin, s.Plate.X2 - margin), rng.NextFloat(s.Plate.Y1 + margin, s.Plate.Y2 - margin));

    // Scratch: a thin straight or slightly curved line, bright (fresh, specular) or dark (filled with grime).
    private static BoxF PlanScratch(Scene s, ref SplitMix64 rng)
    {
        var (cx, cy) = RandomPointOnPlate(s, ref rng, 20);
        float len = rng.NextFloat(22, 95), ang = rng.NextFloat(0, MathF.PI);
        s.P0 = cx - MathF.Cos(ang) * len / 2; s.P1 = cy - MathF.Sin(ang) * len / 2;
        s.P2 = cx + MathF.Cos(ang) * len / 2; s.P3 = cy + MathF.Sin(ang) * len / 2;
        s.P4 = rng.NextFloat(0.7f, 1.6f);                                   // half width
        s.P5 = (rng.Chance(0.6) ? 1 : -1) * rng.NextFloat(0.35f, 0.8f);       // signed contrast
        s.P6 = rng.NextFloat(-4, 4);                                        // bow (curvature) in px
        s.PSeed = rng.NextSeed();
        float pad = s.P4 + MathF.Abs(s.P6) + 2;
        return PadToMin(MathF.Min(s.P0, s.P2) - pad, MathF.Min(s.P1, s.P3) - pad, MathF.Max(s.P0, s.P2) + pad, MathF.Max(s.P1, s.P3) + pad);
    }

    private static void PaintScratch(ImageBuffer img, Scene s)
    {
        float ax = s.P0, ay = s.P1, bx = s.P2, by = s.P3, hw = s.P4, contrast = s.P5, bow = s.P6;
        float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, len = MathF.Sqrt(len2);
        float nx = -dy / len, ny = dx / len;
        float pad = hw + MathF.Abs(bow) + 2;
        int x0 = (int)(MathF.Min(ax, bx) - pad), x1 = (int)(MathF.Max(ax, bx) + pad);
        int y0 = (int)(MathF.Min(ay, by) - pad), y1 = (int)(MathF.Max(ay, by) + pad);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                float t = ((x - ax) * dx + (y - ay) * dy) / len2;
                if (t < 0 || t > 1) continue;
                // Distance to a gently bowed line: offset the straight line by bow * 4t(1-t) along its normal.
                float off = bow * 4 * t * (1 - t);
                float d = (x - ax) * nx + (y - ay) * ny - off;
                float prof = MathF.Exp(-(d * d) / (hw * hw));
                // Scratches fade in and out at the ends and break up along their length.
                float ends = MathF.Min(1, MathF.Min(t, 1 - t) * len / 4);
                float breakup = 0.55f + 0.45f * Noise.Value(t * len / 6, 0, s.PSeed);
                float f = 1 + contrast * prof * ends * breakup;
                Scale(img, x, y, f, f, f);
            }
    }

    // Dent: a smooth depression; shaded by the scene light as a height field h = -(1 - r^2)^2.
    private static BoxF PlanDent(Scene s, ref SplitMix64 rng)
    {
        var (cx, cy) = RandomPointOnPlate(s, ref rng, 30);
        s.P0 = cx; s.P1 = cy;
        s.P2 = rng.NextFloat(9, 30); s.P3 = s.P2 * rng.NextFloat(0.6f, 1.3f);   // radii
        s.P4 = rng.NextFloat(0.25f, 0.55f);                                      // shading strength
        s.P5 = rng.NextFloat(0, MathF.PI);                                       // orientation
        // Box of the rotated ellipse, shrunk a little: the shading fades to nothing at the rim.
        float c = MathF.Cos(s.P5), sn = MathF.Sin(s.P5);
        float hx = 0.9f * MathF.Sqrt(s.P2 * s.P2 * c * c + s.P3 * s.P3 * sn * sn);
        float hy = 0.9f * MathF.Sqrt(s.P2 * s.P2 * sn * sn + s.P3 * s.P3 * c * c);
        return PadToMin(cx - hx, cy - hy, cx + hx, cy + hy);
    }

    private static void PaintDent(ImageBuffer img, Scene s)
    {
        float cx = s.P0, cy = s.P1, rx = s.P2, ry = s.P3, k = s.P4;
        float c = MathF.Cos(s.P5), sn = MathF.Sin(s.P5), ext = MathF.Max(rx, ry);
        for (int y = (int)(cy - ext); y <= (int)(cy + ext); y++)
            for (int x = (int)(cx - ext); x <= (int)(cx + ext); x++)
            {
                float dx = x - cx, dy = y - cy;
                float u = (dx * c + dy * sn) / rx, v = (-dx * sn + dy * c) / ry;
                float r2 = u * u + v * v;
                if (r2 >= 1) continue;
                // Gradient of h = -(1 - r^2)^2 in image coordinates, dotted with the light direction.
                float gr = 4 * (1 - r2);
                float gu = gr * u / rx, gv = gr * v / ry;
                float gx = gu * c - gv * sn, gy = gu * sn + gv * c;
                float shade = (gx * s.LightX + gy * s.LightY) * ext * 0.5f;
                float f = 1 + k * shade - 0.08f * (1 - r2);
                Scale(img, x, y, f, f, f);
            }
    }

    // Pit: a cluster of small dark craters with a lit rim, 16-32 px across.
    private static BoxF PlanPit(Scene s, ref SplitMix64 rng)
    {
        var (cx, cy) = RandomPointOnPlate(s, ref rng, 20);
        s.P0 = cx; s.P1 = cy;
        s.P2 = rng.NextFloat(3, 11);       // cluster radius
        s.PI0 = rng.NextInt(1, 6);         // crater count
        s.P3 = rng.NextFloat(1.8f, 4f);    // crater radius
        s.PSeed = rng.NextSeed();
        float ext = s.P2 + s.P3 + 2;
        return PadToMin(cx - ext, cy - ext, cx + ext, cy + ext);
    }

    private static void PaintPit(ImageBuffer img, Scene s)
    {
        var local = new SplitMix64(s.PSeed);
        for (int k = 0; k < s.PI0; k++)
        {
            float a = local.NextFloat(0, MathF.Tau), d = k == 0 ? 0 : local.NextFloat(0, s.P2);
            float px = s.P0 + MathF.Cos(a) * d, py = s.P1 + MathF.Sin(a) * d;
            float rad = s.P3 * local.NextFloat(0.6f, 1.1f);
            float depth = local.NextFloat(0.45f, 0.75f);
            for (int y = (int)(py - rad - 2); y <= (int)(py + rad + 2); y++)
                for (int x = (int)(px - rad - 2); x <= (int)(px + rad + 2); x++)
                {
                    float dx = x - px, dy = y - py, dd = MathF.Sqrt(dx * dx + dy * dy);
                    if (dd < rad)
                    {
                        float f = 1 - depth * (1 - dd / rad * 0.5f);
                        Scale(img, x, y, f, f, f);
                    }
                    else if (dd < rad + 1.5f)
                    {
                        float lit = 1 + 0.25f * ((dx * s.LightX + dy * s.LightY) / MathF.Max(dd, 1e-3f));
                        Scale(img, x, y, lit, lit, lit);
                    }
                }
        }
    }

    // Discoloration: a soft irregular blotch of heat tint (straw/brown), blueing, or a dark stain.
    private static BoxF PlanDiscoloration(Scene s, ref SplitMix64 rng)
    {
        var (cx, cy) = RandomPointOnPlate(s, ref rng, 30);
        s.P0 = cx; s.P1 = cy;
        s.P2 = rng.NextFloat(10, 45); s.P3 = s.P2 * rng.NextFloat(0.6f, 1.2f);
        s.PI0 = rng.NextInt(0, 3);             // tint kind
        s.P4 = rng.NextFloat(0.55f, 1f);       // opacity
        s.PSeed = rng.NextSeed();
        // The box is where the blotch is visible (alpha above 0.1), not its noise-free ellipse.
        float x1 = float.MaxValue, y1 = float.MaxValue, x2 = float.MinValue, y2 = float.MinValue;
        for (int y = (int)(cy - s.P3 * 1.15f); y <= (int)(cy + s.P3 * 1.15f); y++)
            for (int x = (int)(cx - s.P2 * 1.15f); x <= (int)(cx + s.P2 * 1.15f); x++)
            {
                if (DiscolorationAlpha(s, x, y) < 0.1f) continue;
                x1 = MathF.Min(x1, x); y1 = MathF.Min(y1, y); x2 = MathF.Max(x2, x + 1); y2 = MathF.Max(y2, y + 1);
            }
        if (x1 > x2) { x1 = cx; x2 = cx; y1 = cy; y2 = cy; }
        return PadToMin(x1, y1, x2, y2);
    }

    private static float DiscolorationAlpha(Scene s, int x, int y)
    {
        float u = (x - s.P0) / s.P2, v = (y - s.P1) / s.P3;
        float r = MathF.Sqrt(u * u + v * v);
        // Irregular edge: the radius is modulated by low-frequency noise.
        float edge = 0.8f + 0.35f * Noise.Value(x * (1f / 9), y * (1f / 9), s.PSeed);
        if (r >= edge) return 0;
        return s.P4 * Smooth(1 - r / edge) * (0.75f + 0.25f * Noise.Value(x * (1f / 4), y * (1f / 4), s.PSeed + 1));
    }

    private static void PaintDiscoloration(ImageBuffer img, Scene s)
    {
        float cx = s.P0, cy = s.P1, rx = s.P2, ry = s.P3;
        (float tb, float tg, float tr) = s.PI0 switch
        {
            0 => (0.70f, 0.88f, 1.05f),  // straw / brown heat tint
            1 => (1.15f, 0.93f, 0.78f),  // blue temper colour
            _ => (0.72f, 0.74f, 0.76f),  // dark stain
        };
        for (int y = (int)(cy - ry * 1.15f); y <= (int)(cy + ry * 1.15f); y++)
            for (int x = (int)(cx - rx * 1.15f); x <= (int)(cx + rx * 1.15f); x++)
            {
                float a = DiscolorationAlpha(s, x, y);
                if (a <= 0) continue;
                Scale(img, x, y, 1 + (tb - 1) * a, 1 + (tg - 1) * a, 1 + (tr - 1) * a);
            }
    }

    private static float Smooth(float t)
    {
        t = Math.Clamp(t * 2.5f, 0, 1);
        return t * t * (3 - 2 * t);
    }

    private static void Scale(ImageBuffer img, int x, int y, float fb, float fg, float fr)
    {
        if ((uint)x >= (uint)img.Width || (uint)y >= (uint)img.Height) return;
        var px = img.Pixels;
        int i = y * img.Stride + x * 3;
        px[i] = Clamp(px[i] * fb);
        px[i + 1] = Clamp(px[i + 1] * fg);
        px[i + 2] = Clamp(px[i + 2] * fr);
    }

    private static byte Clamp(float v) => v <= 0 ? (byte)0 : v >= 255 ? (byte)255 : (byte)(v + 0.5f);
}
