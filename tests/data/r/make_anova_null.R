#!/usr/bin/env Rscript
# lme4's anova() of a mixed model against a model without random effects (lm / glm):
# golden values for hierreg.anova(statsmodels_result, mixed_result).
# Usage (repository root): Rscript tests/data/r/make_anova_null.R [DATA_DIR]
# Output: tests/data/reference/lme4-turn3/anova_null.json
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args)) args[1] else file.path("..", "shared", "data")
sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"))
sleep$Subject <- factor(sleep$Subject)
cbpp <- read.csv(file.path(data_dir, "cbpp.csv"))
cbpp$herd <- factor(cbpp$herd)
cbpp$period <- factor(cbpp$period)

tab <- function(a) {
  list(
    npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik, deviance = a$deviance,
    Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]]
  )
}
m1 <- lmer(Reaction ~ Days + (Days | Subject), sleep,
           control = lmerControl(optimizer = "nloptwrap",
                               optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 0,
                                              ftol_rel = 0, maxeval = 1e6)))  # REML: anova refits with ML
m0 <- lm(Reaction ~ Days, sleep)
OPT_TIGHT <- list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 0, ftol_rel = 0, maxeval = 1e6)
tight <- glmerControl(optimizer = "nloptwrap", optCtrl = OPT_TIGHT, tolPwrss = 1e-14)
g1 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = tight)  # tightly converged (lme4's default stops 2.8e-4 short in logLik)
g0 <- glm(cbind(incidence, size - incidence) ~ period, cbpp, family = binomial)
out <- list(
  note = paste(
    "anova(m1, m0) with m0 an lm/glm; lme4", as.character(packageVersion("lme4")),
    R.version.string
  ),
  sleep = c(list(call = "anova(lmer(Reaction ~ Days + (Days | Subject)), lm(Reaction ~ Days))"),
            tab(anova(m1, m0))),
  cbpp = c(list(call = "anova(glmer(cbind(...) ~ period + (1 | herd), binomial), glm(...))"),
           tab(anova(g1, g0)))
)
write_json(out, "tests/data/reference/lme4-turn3/anova_null.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "null")
